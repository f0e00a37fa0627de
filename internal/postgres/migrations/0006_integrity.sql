-- What the log vouches for besides the rows (see the SQLite migration 0009).
ALTER TABLE exports ADD COLUMN data_digest BYTEA;
CREATE TABLE erasures (
    seq     BIGSERIAL PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    salt    BYTEA NOT NULL,
    at      BIGINT NOT NULL
);
ALTER TABLE checkpoints ADD COLUMN logged BIGINT;
CREATE INDEX checkpoints_unlogged ON checkpoints(size) WHERE logged IS NULL;
