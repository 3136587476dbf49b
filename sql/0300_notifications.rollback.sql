DROP FUNCTION IF EXISTS notify_quiet_release(timestamptz, text, time, time);
DROP TABLE IF EXISTS telegram_link_tokens;
ALTER TABLE alert_events DROP COLUMN IF EXISTS reference_price;
ALTER TABLE tracked_alerts
    DROP COLUMN IF EXISTS reference_price,
    DROP COLUMN IF EXISTS checked_at,
    DROP COLUMN IF EXISTS checked_in_stock;
DROP INDEX IF EXISTS outbox_attention_idx;
DROP INDEX IF EXISTS outbox_sending_idx;
DROP INDEX IF EXISTS outbox_user_due_idx;
DROP INDEX IF EXISTS outbox_public_key;
-- public rows cannot exist without this migration's columns
DELETE FROM notification_outbox WHERE user_id IS NULL;
ALTER TABLE notification_outbox
    DROP CONSTRAINT IF EXISTS outbox_recipient_check,
    DROP COLUMN IF EXISTS variant,
    DROP COLUMN IF EXISTS public_target;
ALTER TABLE notification_outbox ALTER COLUMN user_id SET NOT NULL;
