-- Languages (sqlite dialect; keep in step with ../postgres/0006_languages.sql).
-- Each scored page's language (ISO 639-1, 'und' when it could not be told) is counted per score
-- bucket, so a report gives pages and tokens kept per language at any threshold, and per host,
-- every page whose text was extracted (a --languages filter's skipped pages included), so the
-- host statistics say which language a host writes in.
CREATE TABLE language_buckets (
    iteration_id INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    lang         TEXT    NOT NULL,
    bucket       INTEGER NOT NULL,
    pages        INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    PRIMARY KEY (iteration_id, lang, bucket)
);

CREATE TABLE host_languages (
    iteration_id INTEGER NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    host         TEXT    NOT NULL,
    lang         TEXT    NOT NULL,
    pages        INTEGER NOT NULL,
    tokens       INTEGER NOT NULL,
    PRIMARY KEY (iteration_id, host, lang)
);
