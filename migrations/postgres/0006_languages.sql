-- Languages (postgres dialect; keep in step with ../sqlite/0006_languages.sql).
-- Each scored page's language (ISO 639-1, 'und' when it could not be told) is counted per score
-- bucket, so a report gives pages and tokens kept per language at any threshold, and per host,
-- every page whose text was extracted (a --languages filter's skipped pages included), so the
-- host statistics say which language a host writes in.
CREATE TABLE language_buckets (
    iteration_id BIGINT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    lang         TEXT    NOT NULL,
    bucket       BIGINT NOT NULL,
    pages        BIGINT NOT NULL,
    tokens       BIGINT NOT NULL,
    PRIMARY KEY (iteration_id, lang, bucket)
);

CREATE TABLE host_languages (
    iteration_id BIGINT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    host         TEXT    NOT NULL,
    lang         TEXT    NOT NULL,
    pages        BIGINT NOT NULL,
    tokens       BIGINT NOT NULL,
    PRIMARY KEY (iteration_id, host, lang)
);
