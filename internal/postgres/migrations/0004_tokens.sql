-- API bearer tokens (see the SQLite migration 0007).
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
