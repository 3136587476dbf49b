DROP TABLE IF EXISTS worker_heartbeats, audit_log, webhook_events, notification_outbox,
    alert_events, tracked_alerts, tracked_products, notification_channels,
    notification_preferences, subscriptions, users, glitches, anomalies, crawl_runs,
    price_observations, products, retailers CASCADE;
DROP FUNCTION IF EXISTS ensure_observation_partition(timestamptz);
