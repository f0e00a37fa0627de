-- Web sessions of the privacy centre and the console (SPEC §7): only the
-- SHA-256 of a session's secret (the cookie) is kept, with the hash of the
-- token it was opened with. Signing out ends it here, so every server on
-- the store refuses the cookie from then on.
CREATE TABLE sessions (
    hash       TEXT PRIMARY KEY,   -- SHA-256 of the session's secret, hex
    token      TEXT NOT NULL,      -- the token's hash (tokens.hash)
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER             -- NULL while open
);
CREATE INDEX sessions_token ON sessions(token);
