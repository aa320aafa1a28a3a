-- corpusminer metastore, SQLite dialect (keep in step with ../postgres/0001_initial.sql).
-- Times are Unix epoch milliseconds (INTEGER), the same on both backends.

CREATE TABLE iterations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    crawl            TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    config           TEXT    NOT NULL,
    model_uri        TEXT,
    model_sha256     TEXT,
    validation       TEXT,
    threshold        REAL,
    threshold_bucket INTEGER,
    report           TEXT
);

CREATE TABLE shards (
    shard_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    iteration_id     INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    uri              TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'leased', 'done', 'failed')),
    lease_token      TEXT,
    lease_expires_at INTEGER,
    worker           TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT,
    records          INTEGER,
    pages            INTEGER,
    bytes_in         INTEGER,
    scored_uri       TEXT,
    finished_at      INTEGER,
    UNIQUE (iteration_id, uri)
);
CREATE INDEX shards_lease_idx ON shards (iteration_id, state, lease_expires_at);

CREATE TABLE score_histogram (
    iteration_id INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    bucket       INTEGER NOT NULL,
    pages        INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    PRIMARY KEY (iteration_id, bucket)
);

CREATE TABLE host_buckets (
    iteration_id INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    host         TEXT    NOT NULL,
    domain       TEXT    NOT NULL,
    bucket       INTEGER NOT NULL,
    pages        INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    PRIMARY KEY (iteration_id, host, bucket)
);

CREATE TABLE skip_counts (
    iteration_id INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    reason       TEXT    NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (iteration_id, reason)
);
