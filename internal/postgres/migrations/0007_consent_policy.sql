-- The policy version in force when a consent event was recorded through the
-- privacy centre, the API or the command line, and its notice; '' when the
-- event noted none (see the SQLite migration 0010). A constant default adds
-- the columns without rewriting the table.
ALTER TABLE consent_events ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_events ADD COLUMN notice TEXT NOT NULL DEFAULT '';
