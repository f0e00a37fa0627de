-- Notices to recipients, their answers and lineage links (SPEC §11), each
-- logged in the transaction that stores it (translog kinds 9–11).
--
-- A notice's body is its signed JSON, carrying its log index; the other
-- columns repeat what it says, for queries (log verify holds them to it).
-- seq is the order notices are delivered in, never reused.
CREATE TABLE notices (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    id        TEXT NOT NULL UNIQUE,
    export_id TEXT NOT NULL REFERENCES exports(id),
    recipient TEXT NOT NULL,
    issued_at INTEGER NOT NULL,        -- microseconds since the epoch
    deadline  INTEGER NOT NULL,        -- 0: none
    body      BLOB NOT NULL
);
CREATE INDEX notices_recipient ON notices(recipient, seq);
CREATE INDEX notices_export ON notices(export_id, seq);

-- Answers to notices: the recipient's, or an operator's.
CREATE TABLE notice_answers (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    notice_id TEXT NOT NULL REFERENCES notices(id),
    status    TEXT NOT NULL,
    note      TEXT NOT NULL,
    by        TEXT NOT NULL,           -- 'recipient:<id>' or 'operator'
    at        INTEGER NOT NULL
);
CREATE INDEX notice_answers_notice ON notice_answers(notice_id, seq);

-- A job's completed run that read an export's output, linked to it.
CREATE TABLE lineage_runs (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    export_id TEXT NOT NULL REFERENCES exports(id),
    namespace TEXT NOT NULL,
    job       TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    at        INTEGER NOT NULL,        -- the run event's eventTime
    producer  TEXT NOT NULL,
    UNIQUE (export_id, namespace, job, run_id)
);
