-- The transparency log (SPEC §6), appended in the transaction of the
-- change it records: its leaves 256 to a row as C2SP tlog-tiles entry
-- bundles (only the last row partial); the hashes of complete subtrees of
-- 2^8, 2^16, … leaves (the entries of the hash tiles above level 0); and
-- every signed checkpoint issued.
CREATE TABLE log (
    bundle INTEGER PRIMARY KEY,  -- holds leaves 256·bundle …
    n      INTEGER NOT NULL,     -- how many (256 but in the last)
    data   BLOB NOT NULL         -- each leaf: uint16 big-endian length, bytes
);
CREATE TABLE log_nodes (
    level INTEGER NOT NULL,   -- tile level: the node covers 256^level leaves
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    size INTEGER PRIMARY KEY,
    note BLOB NOT NULL,
    at   INTEGER NOT NULL
);
