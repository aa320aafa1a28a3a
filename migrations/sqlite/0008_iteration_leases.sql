-- Iteration leases and idempotency keys (SQLite dialect; keep in step with ../postgres/0008_iteration_leases.sql).
-- The process driving an iteration holds a lease on it: a holder name (host:pid), a random
-- token and an expiry (Unix epoch ms), renewed by heartbeat and taken over once it has expired,
-- so two `serve` replicas on one database never drive the same step. It replaces `runner`
-- (host:pid, checkable only on its own machine), which is no longer written.
ALTER TABLE iterations ADD COLUMN lease_holder TEXT;
ALTER TABLE iterations ADD COLUMN lease_token TEXT;
ALTER TABLE iterations ADD COLUMN lease_expires_at INTEGER;
-- `POST /api/v1/iterations` with an Idempotency-Key header: the key names the iteration the
-- first request created, so a retried request returns it instead of creating another; the
-- SHA-256 of that request's body tells a retry from another request reusing the key.
CREATE TABLE idempotency_keys (
    idem_key     TEXT    PRIMARY KEY,
    request_sha256 TEXT  NOT NULL,
    iteration_id INTEGER  NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    created_at   INTEGER  NOT NULL
);
