DROP TABLE llm_verdicts;
DROP INDEX anomalies_validating_idx;
UPDATE anomalies SET status = 'new' WHERE status = 'validating';
ALTER TABLE anomalies DROP COLUMN attempts;
ALTER TABLE anomalies DROP COLUMN claimed_at;
ALTER TABLE anomalies DROP CONSTRAINT anomalies_status_check;
ALTER TABLE anomalies ADD CONSTRAINT anomalies_status_check
    CHECK (status IN ('new', 'confirmed', 'rejected', 'error'));
