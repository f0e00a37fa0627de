-- Packs: the same subject and consent events, many to a row, written in the
-- transaction that stores them once enough are unpacked. Loading a
-- point-in-time view of a million subjects reads a few hundred packs
-- instead of a million rows. They are derived data: the event rows stay
-- the record.
CREATE TABLE subject_packs (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    body      BLOB NOT NULL
);
CREATE TABLE consent_packs (
    first_seq INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    rows      INTEGER NOT NULL,
    body      BLOB NOT NULL
);
