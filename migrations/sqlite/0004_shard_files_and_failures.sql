-- Shard files and failures (SQLite dialect; keep in step with ../postgres/0004_shard_files_and_failures.sql).
-- A done shard records both of its files as object keys relative to the output folder's root
-- (so the folder can be moved or copied): scored_key (was scored_uri) and texts_key.
ALTER TABLE shards RENAME COLUMN scored_uri TO scored_key;
ALTER TABLE shards ADD COLUMN texts_key TEXT;
-- Why the last attempt failed, as a stable snake_case reason (io, empty, not_warc, panic);
-- `error` keeps the message. A shard goes back to pending after a retryable failure until its
-- attempts reach the run's --max-attempts.
ALTER TABLE shards ADD COLUMN failure_reason TEXT;
