-- Domain proposals and URL-path annotations (PostgreSQL dialect; keep in step with
-- ../sqlite/0002_annotations.sql). Times are Unix epoch milliseconds.

-- Hosts an iteration proposed for annotation (kept ratio above the rule's share), with sample
-- kept pages; `samples` is JSON text: [["url", score], ...], best score first.
CREATE TABLE proposals (
    iteration_id BIGINT  NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    host         TEXT    NOT NULL,
    domain       TEXT    NOT NULL,
    pages        BIGINT  NOT NULL,
    kept_pages   BIGINT  NOT NULL,
    tokens       BIGINT  NOT NULL,
    kept_tokens  BIGINT  NOT NULL,
    ratio        DOUBLE PRECISION NOT NULL,
    samples      TEXT    NOT NULL,
    PRIMARY KEY (iteration_id, host)
);

-- Every annotation ever made: a URL path prefix (`mathoverflow.net/questions`) marked math or
-- not. The current label of a prefix is its latest row (created_at, then id); older rows are
-- the history.
CREATE TABLE annotations (
    id         BIGSERIAL PRIMARY KEY,
    prefix     TEXT    NOT NULL,
    label      TEXT    NOT NULL CHECK (label IN ('math', 'nonmath')),
    annotator  TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    note       TEXT
);
CREATE INDEX annotations_prefix_idx ON annotations (prefix, created_at, id);
