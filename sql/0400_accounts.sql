-- Accounts: server-side sessions, single-use email tokens, login throttling, Stripe customers.
-- Only SHA-256 digests of session ids and tokens are stored: a copy of this database lets
-- nobody sign in or reset a password.

CREATE TABLE user_sessions (
    id           text PRIMARY KEY,  -- sha256 hex of the cookie value
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    ip           text,
    user_agent   text
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_seen_idx ON user_sessions (last_seen_at);

CREATE TABLE account_tokens (
    token_hash text PRIMARY KEY,  -- sha256 hex of the emailed token
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    email      text NOT NULL,     -- the address the token was sent to (the new one for a change)
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- One row per throttled key: scope 'ip' (a client address), 'account' (a digest of the
-- email typed, known or not), 'device' (a trusted-device cookie's nonce).
CREATE TABLE login_throttle (
    scope             text NOT NULL CHECK (scope IN ('ip', 'account', 'device')),
    key               text NOT NULL,
    failures          integer NOT NULL DEFAULT 0,
    window_started_at timestamptz NOT NULL DEFAULT now(),
    locked_until      timestamptz,
    PRIMARY KEY (scope, key)
);

CREATE TABLE billing_customers (
    user_id            bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    stripe_customer_id text NOT NULL UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX subscriptions_grace_idx ON subscriptions (grace_until) WHERE grace_until IS NOT NULL;
