-- Crawl cluster: per-retailer scrape health (block rate, slowdown, flag) and run lookups.
-- depends: 0001_core

ALTER TABLE retailers
    ADD COLUMN block_rate      double precision,
    -- delays are multiplied by this while the retailer pushes back (1 = normal speed)
    ADD COLUMN slowdown_factor double precision NOT NULL DEFAULT 1 CHECK (slowdown_factor >= 1),
    ADD COLUMN flagged_at      timestamptz,
    ADD COLUMN flag_reason     text;

CREATE INDEX crawl_runs_cycle_idx ON crawl_runs (cycle_key, retailer_id);
