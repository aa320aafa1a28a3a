-- corpusminer metastore, PostgreSQL dialect (keep in step with ../sqlite/0001_initial.sql).
-- Times are Unix epoch milliseconds (BIGINT), the same on both backends.

CREATE TABLE iterations (
    id               BIGSERIAL PRIMARY KEY,
    crawl            TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    config           TEXT    NOT NULL,
    model_uri        TEXT,
    model_sha256     TEXT,
    validation       TEXT,
    threshold        DOUBLE PRECISION,
    threshold_bucket BIGINT,
    report           TEXT
);

CREATE TABLE shards (
    shard_id         BIGSERIAL PRIMARY KEY,
    iteration_id     BIGINT  NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    uri              TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'leased', 'done', 'failed')),
    lease_token      TEXT,
    lease_expires_at BIGINT,
    worker           TEXT,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    error            TEXT,
    records          BIGINT,
    pages            BIGINT,
    bytes_in         BIGINT,
    scored_uri       TEXT,
    finished_at      BIGINT,
    UNIQUE (iteration_id, uri)
);
CREATE INDEX shards_lease_idx ON shards (iteration_id, state, lease_expires_at);

CREATE TABLE score_histogram (
    iteration_id BIGINT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    bucket       BIGINT NOT NULL,
    pages        BIGINT NOT NULL,
    tokens       BIGINT NOT NULL,
    PRIMARY KEY (iteration_id, bucket)
);

CREATE TABLE host_buckets (
    iteration_id BIGINT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    host         TEXT   NOT NULL,
    domain       TEXT   NOT NULL,
    bucket       BIGINT NOT NULL,
    pages        BIGINT NOT NULL,
    tokens       BIGINT NOT NULL,
    PRIMARY KEY (iteration_id, host, bucket)
);

CREATE TABLE skip_counts (
    iteration_id BIGINT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    reason       TEXT   NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (iteration_id, reason)
);
