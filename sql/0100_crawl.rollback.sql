-- Undo 0100_crawl.
DROP INDEX IF EXISTS crawl_runs_cycle_idx;
ALTER TABLE retailers
    DROP COLUMN IF EXISTS flag_reason,
    DROP COLUMN IF EXISTS flagged_at,
    DROP COLUMN IF EXISTS slowdown_factor,
    DROP COLUMN IF EXISTS block_rate;
