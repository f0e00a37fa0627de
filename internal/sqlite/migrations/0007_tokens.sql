-- API bearer tokens (SPEC §7): only their SHA-256 is kept.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,   -- SHA-256 of the token, hex
    role       TEXT NOT NULL,      -- admin, operator, auditor or subject
    subject    TEXT NOT NULL,      -- the subject a subject token reaches, else ''
    created_at INTEGER NOT NULL,
    revoked_at INTEGER             -- NULL while valid
);
