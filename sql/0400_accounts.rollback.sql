DROP INDEX IF EXISTS subscriptions_grace_idx;
DROP TABLE IF EXISTS billing_customers;
DROP TABLE IF EXISTS login_throttle;
DROP TABLE IF EXISTS account_tokens;
DROP TABLE IF EXISTS user_sessions;
