-- The iteration loop (PostgreSQL dialect; keep in step with ../sqlite/0003_iteration_loop.sql).
-- An iteration grows its seed from its parent's; `inputs` is JSON text of everything it used
-- (seed and negatives files and their checksums, classifier settings, seeds of random draws);
-- a failed iteration keeps the state it failed in and why, so `resume` knows where to restart.
ALTER TABLE iterations ADD COLUMN parent_id BIGINT REFERENCES iterations(id) ON DELETE SET NULL;
ALTER TABLE iterations ADD COLUMN inputs TEXT;
ALTER TABLE iterations ADD COLUMN error TEXT;
ALTER TABLE iterations ADD COLUMN failed_state TEXT;
-- The process running the iteration (`host:pid`), so `resume` does not start a second one.
ALTER TABLE iterations ADD COLUMN runner TEXT;
