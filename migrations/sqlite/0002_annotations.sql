-- Domain proposals and URL-path annotations (SQLite dialect; keep in step with
-- ../postgres/0002_annotations.sql). Times are Unix epoch milliseconds.

-- Hosts an iteration proposed for annotation (kept ratio above the rule's share), with sample
-- kept pages; `samples` is JSON text: [["url", score], ...], best score first.
CREATE TABLE proposals (
    iteration_id INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    host         TEXT    NOT NULL,
    domain       TEXT    NOT NULL,
    pages        INTEGER NOT NULL,
    kept_pages   INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    kept_tokens  INTEGER NOT NULL,
    ratio        REAL    NOT NULL,
    samples      TEXT    NOT NULL,
    PRIMARY KEY (iteration_id, host)
);

-- Every annotation ever made: a URL path prefix (`mathoverflow.net/questions`) marked math or
-- not. The current label of a prefix is its latest row (created_at, then id); older rows are
-- the history.
CREATE TABLE annotations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix     TEXT    NOT NULL,
    label      TEXT    NOT NULL CHECK (label IN ('math', 'nonmath')),
    annotator  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    note       TEXT
);
CREATE INDEX annotations_prefix_idx ON annotations (prefix, created_at, id);
