-- Policy versions: immutable once published.
CREATE TABLE policies (
    version        TEXT PRIMARY KEY,
    effective_from INTEGER NOT NULL,   -- microseconds since the epoch
    source         BLOB NOT NULL,      -- the YAML as published
    digest         TEXT NOT NULL,      -- SHA-256 of source, hex
    published_at   INTEGER NOT NULL,
    forced         INTEGER NOT NULL DEFAULT 0
);

-- Subject history: one row per change, append-only.
CREATE TABLE subject_events (
    seq         INTEGER PRIMARY KEY,
    subject     TEXT NOT NULL,
    at          INTEGER NOT NULL,
    region_set  INTEGER NOT NULL,      -- 1 when the event sets the region
    region      TEXT NOT NULL,         -- '' with region_set = 1 removes it
    attrs       TEXT NOT NULL,         -- JSON object of string|null, '' for none
    recorded_at INTEGER NOT NULL,
    key         BLOB NOT NULL          -- content digest, for idempotent imports
);
-- One index serves both a subject's history and idempotency: the digest
-- covers the subject and time, so it is unique within them.
CREATE UNIQUE INDEX subject_events_subject ON subject_events(subject, at, key);

-- Consent events: append-only; a change is a new event.
CREATE TABLE consent_events (
    seq         INTEGER PRIMARY KEY,
    subject     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    recipient   TEXT NOT NULL,         -- '' means every recipient ('*')
    state       INTEGER NOT NULL,      -- 1 granted, 2 denied
    at          INTEGER NOT NULL,
    source      TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    key         BLOB NOT NULL
);
CREATE UNIQUE INDEX consent_events_subject ON consent_events(subject, at, key);

-- Exports and their manifests.
CREATE TABLE exports (
    id         TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    purpose    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    as_of      INTEGER NOT NULL,
    status     TEXT NOT NULL,
    manifest   BLOB NOT NULL
);
