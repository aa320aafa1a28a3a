-- Training runs (PostgreSQL dialect; keep in step with ../sqlite/0005_training_runs.sql).
-- One row per `corpusminer train` process (a Kubernetes Job, never a thread of `serve`): its
-- progress after each logged step, and at the end the object key of its report, so `serve` can
-- show both. Times are Unix epoch milliseconds.
CREATE TABLE training_runs (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    config       TEXT    NOT NULL,
    step         BIGINT  NOT NULL DEFAULT 0,
    steps        BIGINT  NOT NULL,
    loss         DOUBLE PRECISION,
    tokens_per_s DOUBLE PRECISION,
    eta_s        DOUBLE PRECISION,
    report_key   TEXT,
    error        TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
