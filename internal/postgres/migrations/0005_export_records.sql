-- Each included record's decision inputs, as inclusion chunks (see the
-- SQLite migration 0008). Compressed already: stored as it is.
CREATE TABLE export_records (
    export_id TEXT NOT NULL REFERENCES exports(id),
    chunk     INTEGER NOT NULL,
    body      BYTEA NOT NULL,
    PRIMARY KEY (export_id, chunk)
);
ALTER TABLE export_records ALTER COLUMN body SET STORAGE EXTERNAL;
