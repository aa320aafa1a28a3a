-- Web UI sessions (SQLite dialect; keep in step with ../postgres/0010_ui_sessions.sql).
-- Signing in exchanges a token for a session: the cookie carries a random session secret, never
-- the token, and only the secret's SHA-256 (hex) is stored. A session ends at expires_at, at
-- logout (its row is deleted) or when its token is revoked. Times are Unix epoch milliseconds.
CREATE TABLE ui_sessions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    session_sha256 TEXT    NOT NULL UNIQUE,
    token_id       INTEGER NOT NULL REFERENCES api_tokens (id),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
