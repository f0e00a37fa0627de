-- The transparency log (SPEC §6): one row per leaf, appended in the
-- transaction of the change it records; the hashes of complete subtrees of
-- 2^8, 2^16, … leaves (the entries of C2SP tlog-tiles above level 0); and
-- every signed checkpoint issued.
CREATE TABLE log (
    idx  INTEGER PRIMARY KEY,
    data BLOB NOT NULL
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
