-- What the log vouches for besides the rows (SPEC §6, issue 12):
-- an export's state (its status and a digest of what the store keeps of
-- it) is a log entry, appended as it is logged and at every status change;
-- data_digest keeps the digest of its subject set and kept records for the
-- later entries (log verify recomputes it from the data, never trusts it).
-- An export logged before this migration gets one "backfilled" entry from
-- the first writing session.
ALTER TABLE exports ADD COLUMN data_digest BLOB;
-- Where the export ran (relative paths in its manifest are resolved there,
-- whatever the directory of the command that looks later), its manifest's
-- path, and who is running it until when: a command opening the store
-- while the export finishes leaves it alone (its owner's process alive on
-- this machine, or its lease not run out), instead of marking it abandoned.
ALTER TABLE exports ADD COLUMN dir TEXT NOT NULL DEFAULT '';
ALTER TABLE exports ADD COLUMN manifest_path TEXT NOT NULL DEFAULT '';
ALTER TABLE exports ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE exports ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
-- Each erasure of a subject's log key, logged: a logged row whose subject
-- has no key verifies only when its subject is here. salt is the erasure
-- leaf's own, so that the log names the subject to nobody without the store.
-- rows_digest is the digest of the subject's rows when erased (consent and
-- subject events, impact marks), so that a row moved onto an erased
-- subject, or one of its rows edited, is caught.
CREATE TABLE erasures (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    subject     TEXT NOT NULL UNIQUE,
    salt        BLOB NOT NULL,
    at          INTEGER NOT NULL,
    rows_digest BLOB NOT NULL
);
-- A kept checkpoint is recorded in the log by the first append after it
-- was issued (logged: that leaf's index), so the log holds the sequence of
-- its checkpoints and a deleted one is missed.
ALTER TABLE checkpoints ADD COLUMN logged INTEGER;
CREATE INDEX checkpoints_unlogged ON checkpoints(size) WHERE logged IS NULL;
