-- Web sessions (see the SQLite migration 0012).
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX sessions_token ON sessions(token);
