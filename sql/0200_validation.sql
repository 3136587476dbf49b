-- Validation claims its anomalies ('validating' + claimed_at), commits, calls the LLM outside
-- any transaction, then records; a sweep returns claims older than a few minutes to 'new'.
-- llm_verdicts caches each model answer per anomaly, so a retried validation never pays twice.
ALTER TABLE anomalies DROP CONSTRAINT anomalies_status_check;
ALTER TABLE anomalies ADD CONSTRAINT anomalies_status_check
    CHECK (status IN ('new', 'validating', 'confirmed', 'rejected', 'error'));
ALTER TABLE anomalies ADD COLUMN claimed_at timestamptz;
ALTER TABLE anomalies ADD COLUMN attempts integer NOT NULL DEFAULT 0;
CREATE INDEX anomalies_validating_idx ON anomalies (claimed_at) WHERE status = 'validating';

CREATE TABLE llm_verdicts (
    anomaly_id        bigint PRIMARY KEY REFERENCES anomalies (id) ON DELETE CASCADE,
    model             text NOT NULL,
    is_glitch         boolean NOT NULL,
    confidence        double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    glitch_type       text NOT NULL,
    reasoning         text NOT NULL DEFAULT '',
    prompt_tokens     integer,
    completion_tokens integer,
    latency_ms        integer,
    created_at        timestamptz NOT NULL DEFAULT now()
);
