-- Notices to recipients, their answers and lineage links (SPEC §11; see
-- the SQLite migration 0011).
CREATE TABLE notices (
    seq       BIGSERIAL PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    export_id TEXT NOT NULL REFERENCES exports(id),
    recipient TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    deadline  BIGINT NOT NULL,
    body      BYTEA NOT NULL
);
CREATE INDEX notices_recipient ON notices(recipient, seq);
CREATE INDEX notices_export ON notices(export_id, seq);
CREATE TABLE notice_answers (
    seq       BIGSERIAL PRIMARY KEY,
    notice_id TEXT NOT NULL REFERENCES notices(id),
    status    TEXT NOT NULL,
    note      TEXT NOT NULL,
    by        TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX notice_answers_notice ON notice_answers(notice_id, seq);
CREATE TABLE lineage_runs (
    seq       BIGSERIAL PRIMARY KEY,
    export_id TEXT NOT NULL REFERENCES exports(id),
    namespace TEXT NOT NULL,
    job       TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    at        BIGINT NOT NULL,
    producer  TEXT NOT NULL,
    UNIQUE (export_id, namespace, job, run_id)
);
