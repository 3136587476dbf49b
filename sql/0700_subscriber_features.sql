-- Subscriber features: channel verification codes and personal API tokens.

CREATE TABLE channel_verifications (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('sms', 'whatsapp', 'email')),
    address    text NOT NULL,
    code_hash  text NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    -- only a SHA-256 of the token is kept; the token itself is shown once
    token_hash   text NOT NULL UNIQUE,
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- the price-history chart and "lowest price" read a product's observations newest first
CREATE INDEX IF NOT EXISTS tracked_products_product_idx ON tracked_products (product_id);
