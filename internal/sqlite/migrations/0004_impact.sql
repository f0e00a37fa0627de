-- Operators' status changes of impact items (an export and a subject that
-- withdrew or became ineligible after it): the latest is the status.
CREATE TABLE impact_marks (
    seq       INTEGER PRIMARY KEY,
    export_id TEXT NOT NULL REFERENCES exports(id),
    subject   TEXT NOT NULL,
    status    TEXT NOT NULL,
    note      TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX impact_marks_item ON impact_marks(export_id, subject);
