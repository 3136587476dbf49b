-- Operator console: operator accounts, and the indexes its live views need to stay fast
-- with millions of observations (each one serves a "recent N" or "last hour" view that would
-- otherwise scan the whole table).

CREATE TABLE operators (
    id            serial PRIMARY KEY,
    username      text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    password_hash text NOT NULL,  -- argon2id (PHC string)
    -- viewer: read only; operator: may act (pause, crawl, approve, retry...); admin: same, and
    -- named separately so that account management can be limited to it later
    role          text NOT NULL DEFAULT 'operator' CHECK (role IN ('viewer', 'operator', 'admin')),
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    last_login_at timestamptz,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX operators_username_idx ON operators (username);

-- The anomaly feed and the funnel read the newest anomalies (only status = 'new' was indexed);
-- the funnel's counts by status come from the index alone once the rows are all-visible.
CREATE INDEX console_anomalies_created_idx ON anomalies (created_at DESC) INCLUDE (status);
-- Success/block rates and items per minute read the last hour of runs across all retailers.
CREATE INDEX console_crawl_runs_started_idx ON crawl_runs (started_at DESC);
-- The funnel and the notifications page count the last day's outbox rows by tier, channel
-- and status.
CREATE INDEX console_outbox_created_idx ON notification_outbox (created_at DESC)
    INCLUDE (status, tier, channel);
-- End-to-end latency: each recent glitch's first delivered alert, without visiting its rows.
-- A row enters it once, when it is sent (status changes already rule out HOT updates).
CREATE INDEX console_outbox_first_sent_idx ON notification_outbox (glitch_id, sent_at)
    WHERE status = 'sent';
-- An operator's history of one target (a retailer, an anomaly, an outbox row).
CREATE INDEX console_audit_target_idx ON audit_log (target, at DESC);
