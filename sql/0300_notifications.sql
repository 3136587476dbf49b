-- Notifications: public (Discord) rows and teasers in the outbox, tracked-alert evaluation
-- state, Telegram link tokens, and the quiet-hours release time as a SQL function (fan-out
-- evaluates it for 100k subscribers in one statement).

-- A public row has no user: it goes to an operator-configured webhook named by public_target
-- (a digest of its URL, so the URL itself, a credential, is never stored).
ALTER TABLE notification_outbox ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE notification_outbox
    ADD COLUMN public_target text,
    ADD COLUMN variant text NOT NULL DEFAULT 'deal' CHECK (variant IN ('deal', 'teaser')),
    ADD CONSTRAINT outbox_recipient_check CHECK ((user_id IS NULL) <> (public_target IS NULL));
CREATE UNIQUE INDEX outbox_public_key ON notification_outbox (glitch_id, public_target, variant)
    WHERE public_target IS NOT NULL;
-- the daily cap counts a user's rows per local day; the stale-send sweep finds 'sending' rows
CREATE INDEX outbox_user_due_idx ON notification_outbox (user_id, due_at) WHERE glitch_id IS NOT NULL;
CREATE INDEX outbox_sending_idx ON notification_outbox (claimed_at) WHERE status = 'sending';
CREATE INDEX outbox_attention_idx ON notification_outbox (status) WHERE status IN ('review', 'dead', 'failed');

-- Alert evaluation state: the reference a % drop or new low is measured from, and the last
-- observation looked at (back in stock fires on the transition, not on every in-stock crawl).
ALTER TABLE tracked_alerts
    ADD COLUMN reference_price  numeric(14, 4),
    ADD COLUMN checked_at       timestamptz,
    ADD COLUMN checked_in_stock boolean;
ALTER TABLE alert_events ADD COLUMN reference_price numeric(14, 4);

-- Single-use, expiring Telegram deep-link tokens (t.me/<bot>?start=<token>); only a digest kept.
CREATE TABLE telegram_link_tokens (
    token_hash text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    chat_id    text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX telegram_link_tokens_user_idx ON telegram_link_tokens (user_id);

-- When a notification due at `due` may go out for a subscriber in time zone `tz` whose quiet
-- hours are [qs, qe) local time (the window may wrap midnight): `due` itself, or the end of
-- the quiet window. Kept to one expression so the planner inlines it into the fan-out.
-- pricehawk.notifications.matching.quiet_release is the same rule in Python (tested together).
CREATE FUNCTION notify_quiet_release(due timestamptz, tz text, qs time, qe time)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN qs IS NULL OR qe IS NULL OR qs = qe THEN due
        WHEN qs < qe AND (due AT TIME ZONE tz)::time >= qs AND (due AT TIME ZONE tz)::time < qe
            THEN ((due AT TIME ZONE tz)::date + qe) AT TIME ZONE tz
        WHEN qs > qe AND (due AT TIME ZONE tz)::time >= qs
            THEN ((due AT TIME ZONE tz)::date + 1 + qe) AT TIME ZONE tz
        WHEN qs > qe AND (due AT TIME ZONE tz)::time < qe
            THEN ((due AT TIME ZONE tz)::date + qe) AT TIME ZONE tz
        ELSE due
    END
$$;
