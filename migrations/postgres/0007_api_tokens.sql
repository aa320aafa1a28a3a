-- API tokens (PostgreSQL dialect; keep in step with ../sqlite/0007_api_tokens.sql).
-- One row per bearer token of `corpusminer serve`, made by `corpusminer admin token create`: only
-- the SHA-256 of the token is stored (hex), never the token. A revoked token keeps its row (who
-- made what stays readable) with `revoked_at` set. Times are Unix epoch milliseconds.
CREATE TABLE api_tokens (
    id           BIGSERIAL PRIMARY KEY,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'annotator', 'worker')),
    token_sha256 TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    revoked_at   BIGINT
);
