-- Scheduled jobs and webhooks (PostgreSQL dialect; keep in step with ../sqlite/0011_schedules_and_webhooks.sql).
-- Times are Unix epoch milliseconds.
--
-- A schedule runs one job kind on a cron expression in a time zone. Every `serve` replica ticks;
-- a run is claimed by inserting its (schedule, slot) row, unique, in the same transaction as what
-- it starts (an iteration row, released shard leases), so no slot runs twice. A failed run keeps
-- its row with `next_retry_at`; its retry is claimed by moving `attempts` on from the value it
-- read, again in the transaction that does the work.
CREATE TABLE schedules (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('mine-new-crawl', 'next-when-labelled', 'expire-leases', 'train')),
    cron        TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    -- mine-new-crawl: the POST /iterations body without inputs (JSON) and the crawl base;
    -- train: the `corpusminer train` choices (JSON).
    template    TEXT,
    crawl_base  TEXT,
    -- next-when-labelled, train: an iteration of the chain to follow.
    chain       BIGINT ,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE job_runs (
    id             BIGSERIAL PRIMARY KEY,
    schedule_id    BIGINT  NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    -- The cron occurrence this run is for (the latest one due when it was claimed).
    slot           BIGINT  NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('succeeded', 'skipped', 'failed', 'gave_up')),
    attempts       BIGINT  NOT NULL,
    claimed_by     TEXT    NOT NULL,
    started_at     BIGINT  NOT NULL,
    finished_at    BIGINT  NOT NULL,
    outcome        TEXT,
    error          TEXT,
    next_retry_at  BIGINT ,
    -- The iteration the run started (train: the one it trained on).
    iteration_id   BIGINT  REFERENCES iterations (id) ON DELETE SET NULL,
    UNIQUE (schedule_id, slot)
);
CREATE INDEX job_runs_retry ON job_runs (state, next_retry_at);

-- Webhooks: each event a subscribed webhook wants becomes a delivery row in the transaction
-- that makes the event (an iteration's state change, a failed job), delivered by whichever
-- replica claims it (`claimed_until`), retried with backoff. The secret signs each body
-- (HMAC-SHA256), so it is kept as given: the API never returns it.
CREATE TABLE webhooks (
    id          BIGSERIAL PRIMARY KEY,
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    webhook_id      BIGINT  NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    claimed_until   BIGINT ,
    last_status     BIGINT ,
    last_error      TEXT,
    delivered_at    BIGINT 
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
