-- The export as one query, general: any number of subjects on a record
-- (one row per subject, the record kept if every row passes), the lines
-- numbered to keep their order.
COPY (
  WITH
  -- Every line as it was read, numbered, with the fields the export reads.
  raw AS (
    SELECT row_number() OVER () AS n, line, json_extract(line, ['$.kind', '$.created_at', '$.author', '$.to']) AS f
    FROM read_csv({records}, columns = {'line': 'VARCHAR'}, header = false, delim = E'\x01', quote = '', escape = '', auto_detect = false)),
  recs AS (
    SELECT n, line, f[1]->>'$' AS kind, try_cast(f[2]->>'$' AS TIMESTAMPTZ) AS created, f[3]->>'$' AS author,
      recipients(f[4]) AS recipients
    FROM raw),
  -- One row per subject on a record: the author, each recipient.
  subs AS (
    SELECT n, kind, created, author AS subject FROM recs WHERE author IS NOT NULL
    UNION ALL
    SELECT n, kind, created, unnest(recipients) AS subject FROM recs),
  checked AS (
    SELECT s.n,
      s.subject IS NOT NULL AND subj.subject IS NOT NULL                                    -- subject.unknown
      AND s.kind IN ('user.content.public', 'user.content.private.message', 'user.profile')  -- category.unknown
      AND s.created IS NOT NULL AND s.created <= TIMESTAMPTZ '{asof}'                       -- record.malformed, record.future
      AND subject_ok(s.kind, s.created, subj.regions, subj.tiers, cons.c) AS ok
    FROM subs s
    LEFT JOIN subj ON subj.subject = s.subject
    LEFT JOIN cons ON cons.subject = s.subject),
  kept AS (SELECT n FROM checked GROUP BY n HAVING bool_and(coalesce(ok, false)))
  SELECT line FROM recs SEMI JOIN kept USING (n) ORDER BY n
) TO {out} (FORMAT csv, HEADER false, DELIMITER E'\x01', QUOTE '', ESCAPE '');
