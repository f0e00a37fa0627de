-- What the log vouches for besides the rows (see the SQLite migration 0009).
ALTER TABLE exports ADD COLUMN data_digest BYTEA;
ALTER TABLE exports ADD COLUMN dir TEXT NOT NULL DEFAULT '';
ALTER TABLE exports ADD COLUMN manifest_path TEXT NOT NULL DEFAULT '';
ALTER TABLE exports ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE exports ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
CREATE TABLE erasures (
    seq         BIGSERIAL PRIMARY KEY,
    subject     TEXT NOT NULL UNIQUE,
    salt        BYTEA NOT NULL,
    at          BIGINT NOT NULL,
    rows_digest BYTEA NOT NULL
);
ALTER TABLE checkpoints ADD COLUMN logged BIGINT;
CREATE INDEX checkpoints_unlogged ON checkpoints(size) WHERE logged IS NULL;
