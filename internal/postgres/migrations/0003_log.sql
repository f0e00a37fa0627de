-- The transparency log (see the SQLite migration 0006). Writers that
-- append hold the advisory lock logLock for their transaction, so leaves
-- are appended one transaction at a time, in commit order.
CREATE TABLE log (
    bundle BIGINT PRIMARY KEY,
    n      INTEGER NOT NULL,
    data   BYTEA NOT NULL
);
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE checkpoints (
    size BIGINT PRIMARY KEY,
    note BYTEA NOT NULL,
    at   BIGINT NOT NULL
);
-- Leaf bundles are hashes and pseudonyms: incompressible; do not try.
ALTER TABLE log ALTER COLUMN data SET STORAGE EXTERNAL;
