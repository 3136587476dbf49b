DROP INDEX IF EXISTS console_audit_target_idx;
DROP INDEX IF EXISTS console_outbox_first_sent_idx;
DROP INDEX IF EXISTS console_outbox_created_idx;
DROP INDEX IF EXISTS console_crawl_runs_started_idx;
DROP INDEX IF EXISTS console_anomalies_created_idx;
DROP TABLE IF EXISTS operators;
