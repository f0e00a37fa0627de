-- What deciding each record an export included needs again (id, category,
-- creation time, subjects with roles), in output order, as inclusion
-- chunks (one per batch of input the export's workers decided): what
-- impact re-decides when a member withdraws or becomes ineligible.
CREATE TABLE export_records (
    export_id TEXT NOT NULL REFERENCES exports(id),
    chunk     INTEGER NOT NULL,
    body      BLOB NOT NULL,
    PRIMARY KEY (export_id, chunk)
) WITHOUT ROWID;
