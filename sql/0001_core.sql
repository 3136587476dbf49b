-- PriceHawk core schema: retailers, products, prices, anomalies, glitches, subscribers,
-- notifications, billing events, crawl runs, audit log.
-- Money is numeric (exact); times are timestamptz (UTC in, UTC out).

CREATE TABLE retailers (
    id               serial PRIMARY KEY,
    slug             text NOT NULL UNIQUE,
    name             text NOT NULL,
    domains          text[] NOT NULL DEFAULT '{}',
    fetch_mode       text NOT NULL DEFAULT 'http' CHECK (fetch_mode IN ('http', 'browser')),
    currency         char(3),
    crawl_interval_s integer NOT NULL DEFAULT 900 CHECK (crawl_interval_s > 0),
    config           jsonb NOT NULL DEFAULT '{}',
    paused           boolean NOT NULL DEFAULT false,
    -- circuit breaker: closed (crawl), open (skip until retry_at), half_open (one trial run)
    circuit_state    text NOT NULL DEFAULT 'closed' CHECK (circuit_state IN ('closed', 'open', 'half_open')),
    failed_runs      integer NOT NULL DEFAULT 0,
    circuit_retry_at timestamptz,
    last_crawl_at    timestamptz,
    last_success_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id               bigserial PRIMARY KEY,
    retailer_id      integer NOT NULL REFERENCES retailers (id) ON DELETE CASCADE,
    url              text NOT NULL,
    title            text,
    sku              text,
    gtin             text,
    mpn              text,
    brand            text,
    category         text,
    image_url        text,
    currency         char(3),
    -- the last known good observation; a failed fetch never overwrites it
    last_price       numeric(14, 4),
    last_list_price  numeric(14, 4),
    availability     text,
    last_observed_at timestamptz,
    last_fetch_at    timestamptz,
    last_fetch_error text,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (retailer_id, url)
);
CREATE INDEX products_gtin_idx ON products (gtin) WHERE gtin IS NOT NULL;
CREATE INDEX products_category_idx ON products (retailer_id, category);

-- Partitioned by month; the default partition means no observation is ever rejected for
-- lack of a partition (maintenance creates the months ahead and moves nothing).
CREATE TABLE price_observations (
    product_id   bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    observed_at  timestamptz NOT NULL,
    price        numeric(14, 4) NOT NULL CHECK (price >= 0),
    list_price   numeric(14, 4),
    currency     char(3) NOT NULL,
    availability text,
    method       text,
    crawl_run_id bigint,
    PRIMARY KEY (product_id, observed_at)
) PARTITION BY RANGE (observed_at);
CREATE TABLE price_observations_default PARTITION OF price_observations DEFAULT;
CREATE INDEX price_observations_time_idx ON price_observations (observed_at);

-- Creates the monthly partition that holds `month` (any timestamp in it); safe to call twice.
CREATE FUNCTION ensure_observation_partition(month timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    start_at timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    end_at   timestamptz := start_at + interval '1 month';
    name     text := 'price_observations_' || to_char(start_at AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
    IF to_regclass(name) IS NULL THEN
        -- Rows already in the default partition for this month must move first, or the
        -- new partition's creation fails; done in one statement block, so nothing is lost.
        EXECUTE format('CREATE TEMP TABLE _moving ON COMMIT DROP AS
                          SELECT * FROM price_observations_default
                          WHERE observed_at >= %L AND observed_at < %L', start_at, end_at);
        EXECUTE format('DELETE FROM price_observations_default
                          WHERE observed_at >= %L AND observed_at < %L', start_at, end_at);
        EXECUTE format('CREATE TABLE %I PARTITION OF price_observations
                          FOR VALUES FROM (%L) TO (%L)', name, start_at, end_at);
        EXECUTE 'INSERT INTO price_observations SELECT * FROM _moving';
        DROP TABLE _moving;
    END IF;
    RETURN name;
END $$;

DO $$ BEGIN
    PERFORM ensure_observation_partition(now());
    PERFORM ensure_observation_partition(now() + interval '1 month');
END $$;

CREATE TABLE crawl_runs (
    id          bigserial PRIMARY KEY,
    retailer_id integer REFERENCES retailers (id) ON DELETE SET NULL,
    spider      text NOT NULL,
    cycle_key   text NOT NULL,
    worker      text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed')),
    pages       integer NOT NULL DEFAULT 0,
    items       integer NOT NULL DEFAULT 0,
    blocked     integer NOT NULL DEFAULT 0,
    failures    jsonb NOT NULL DEFAULT '{}',
    stats       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX crawl_runs_retailer_idx ON crawl_runs (retailer_id, started_at DESC);

CREATE TABLE anomalies (
    id           bigserial PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    observed_at  timestamptz NOT NULL,
    price        numeric(14, 4) NOT NULL,
    baseline     numeric(14, 4),
    list_price   numeric(14, 4),
    currency     char(3) NOT NULL,
    discount     double precision,
    confidence   double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    glitch_type  text NOT NULL,
    scores       jsonb NOT NULL DEFAULT '{}',
    reasons      text[] NOT NULL DEFAULT '{}',
    status       text NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'confirmed', 'rejected', 'error')),
    validated_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- one anomaly per observation: a re-run pipeline or a redelivered item changes nothing
    UNIQUE (product_id, observed_at)
);
CREATE INDEX anomalies_new_idx ON anomalies (created_at) WHERE status = 'new';

CREATE TABLE glitches (
    id            bigserial PRIMARY KEY,
    anomaly_id    bigint NOT NULL UNIQUE REFERENCES anomalies (id) ON DELETE CASCADE,
    product_id    bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    price         numeric(14, 4) NOT NULL,
    baseline      numeric(14, 4),
    currency      char(3) NOT NULL,
    observed_at   timestamptz NOT NULL,
    confidence    double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    glitch_type   text NOT NULL,
    reasoning     text NOT NULL DEFAULT '',
    validator     text NOT NULL,
    validated_at  timestamptz NOT NULL DEFAULT now(),
    status        text NOT NULL DEFAULT 'live' CHECK (status IN ('live', 'ended', 'withdrawn')),
    ended_at      timestamptz,
    fanned_out_at timestamptz
);
CREATE INDEX glitches_pending_fanout_idx ON glitches (validated_at) WHERE fanned_out_at IS NULL;
CREATE INDEX glitches_recent_idx ON glitches (validated_at DESC);

CREATE TABLE users (
    id                bigserial PRIMARY KEY,
    email             text NOT NULL,
    password_hash     text,
    email_verified_at timestamptz,
    tier              text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'starter', 'pro', 'elite')),
    timezone          text NOT NULL DEFAULT 'UTC',
    markup_pct        numeric(6, 2) NOT NULL DEFAULT 0,
    is_demo           boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz
);
CREATE UNIQUE INDEX users_email_idx ON users (lower(email)) WHERE deleted_at IS NULL;

CREATE TABLE subscriptions (
    id                     bigserial PRIMARY KEY,
    user_id                bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    stripe_customer_id     text,
    stripe_subscription_id text UNIQUE,
    tier                   text NOT NULL CHECK (tier IN ('free', 'starter', 'pro', 'elite')),
    billing_cycle          text NOT NULL DEFAULT 'monthly' CHECK (billing_cycle IN ('monthly', 'annual')),
    status                 text NOT NULL,
    current_period_end     timestamptz,
    grace_until            timestamptz,
    -- Stripe's event.created of the last applied change: an older event never overwrites it
    state_at               timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_user_idx ON subscriptions (user_id);
CREATE INDEX subscriptions_customer_idx ON subscriptions (stripe_customer_id);

CREATE TABLE notification_preferences (
    user_id          bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    retailers        text[] NOT NULL DEFAULT '{}',  -- empty: all
    categories       text[] NOT NULL DEFAULT '{}',  -- empty: all
    min_price        numeric(14, 4),
    max_price        numeric(14, 4),
    min_discount_pct numeric(5, 2) NOT NULL DEFAULT 0,
    min_margin_pct   numeric(6, 2),
    quiet_start      time,
    quiet_end        time,
    daily_cap        integer CHECK (daily_cap IS NULL OR daily_cap > 0),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_channels (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('email', 'sms', 'whatsapp', 'telegram', 'discord', 'file')),
    address     text NOT NULL,
    verified_at timestamptz,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, kind)
);

CREATE TABLE tracked_products (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    product_id bigint NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    paused     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, product_id)
);

CREATE TABLE tracked_alerts (
    id                 bigserial PRIMARY KEY,
    tracked_product_id bigint NOT NULL REFERENCES tracked_products (id) ON DELETE CASCADE,
    kind               text NOT NULL CHECK (kind IN ('target_price', 'pct_drop', 'new_low', 'back_in_stock')),
    threshold          numeric(14, 4),
    -- fires once, then waits to re-arm (price back above target, back out of stock...)
    armed              boolean NOT NULL DEFAULT true,
    last_fired_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tracked_product_id, kind)
);

CREATE TABLE alert_events (
    id               bigserial PRIMARY KEY,
    tracked_alert_id bigint NOT NULL REFERENCES tracked_alerts (id) ON DELETE CASCADE,
    observed_at      timestamptz NOT NULL,
    price            numeric(14, 4),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tracked_alert_id, observed_at)
);

CREATE TABLE notification_outbox (
    id                  bigserial PRIMARY KEY,
    glitch_id           bigint REFERENCES glitches (id) ON DELETE CASCADE,
    alert_event_id      bigint REFERENCES alert_events (id) ON DELETE CASCADE,
    user_id             bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel             text NOT NULL,
    tier                text NOT NULL,
    due_at              timestamptz NOT NULL,
    -- pending -> sending -> sent | failed | dead | review | expired | cancelled
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead', 'review', 'expired', 'cancelled')),
    attempts            integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz,
    claimed_at          timestamptz,
    claimed_by          text,
    sent_at             timestamptz,
    provider_message_id text,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((glitch_id IS NULL) <> (alert_event_id IS NULL))
);
-- one row per (glitch or alert, user, channel): fan-out may run any number of times
CREATE UNIQUE INDEX outbox_glitch_key ON notification_outbox (glitch_id, user_id, channel) WHERE glitch_id IS NOT NULL;
CREATE UNIQUE INDEX outbox_alert_key ON notification_outbox (alert_event_id, user_id, channel) WHERE alert_event_id IS NOT NULL;
CREATE INDEX outbox_due_idx ON notification_outbox (due_at) WHERE status = 'pending';
CREATE INDEX outbox_user_idx ON notification_outbox (user_id, created_at DESC);

CREATE TABLE webhook_events (
    provider     text NOT NULL,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    payload      jsonb NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    actor  text NOT NULL,
    action text NOT NULL,
    target text,
    before jsonb,
    after  jsonb,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

CREATE TABLE worker_heartbeats (
    worker    text PRIMARY KEY,
    role      text NOT NULL,
    beat_at   timestamptz NOT NULL DEFAULT now(),
    info      jsonb NOT NULL DEFAULT '{}'
);
