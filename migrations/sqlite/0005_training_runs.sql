-- Training runs (SQLite dialect; keep in step with ../postgres/0005_training_runs.sql).
-- One row per `corpusminer train` process (a Kubernetes Job, never a thread of `serve`): its
-- progress after each logged step, and at the end the object key of its report, so `serve` can
-- show both. Times are Unix epoch milliseconds.
CREATE TABLE training_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    config       TEXT    NOT NULL,
    step         INTEGER NOT NULL DEFAULT 0,
    steps        INTEGER NOT NULL,
    loss         REAL,
    tokens_per_s REAL,
    eta_s        REAL,
    report_key   TEXT,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
