CREATE TABLE policies (
    version        TEXT PRIMARY KEY,
    effective_from BIGINT NOT NULL,
    source         BYTEA NOT NULL,
    digest         TEXT NOT NULL,
    published_at   BIGINT NOT NULL,
    forced         BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE subject_events (
    seq         BIGSERIAL PRIMARY KEY,
    subject     TEXT NOT NULL,
    at          BIGINT NOT NULL,
    region_set  BOOLEAN NOT NULL,
    region      TEXT NOT NULL,
    attrs       TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    key         BYTEA NOT NULL
);
CREATE UNIQUE INDEX subject_events_subject ON subject_events(subject, at, key);
CREATE TABLE consent_events (
    seq         BIGSERIAL PRIMARY KEY,
    subject     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    state       SMALLINT NOT NULL,
    at          BIGINT NOT NULL,
    source      TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    key         BYTEA NOT NULL
);
CREATE UNIQUE INDEX consent_events_subject ON consent_events(subject, at, key);
CREATE TABLE exports (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    purpose    TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    as_of      BIGINT NOT NULL,
    status     TEXT NOT NULL,
    manifest   BYTEA NOT NULL,
    subjects   BYTEA
);
CREATE TABLE impact_marks (
    seq       BIGSERIAL PRIMARY KEY,
    export_id TEXT NOT NULL REFERENCES exports(id),
    subject   TEXT NOT NULL,
    status    TEXT NOT NULL,
    note      TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX impact_marks_item ON impact_marks(export_id, subject);
