-- What a member was told when they chose (SPEC §2.1, issue 13): a consent
-- event recorded through the privacy centre, the API or the command line
-- notes the policy version in force at its time and that version's notice
-- (the address where it is explained). '' for an event that noted none: one
-- stored before this migration, an imported one, one before any version.
-- Existing rows keep their form (and their log leaves, which cover the two
-- only when set); packs carry them behind a flag on the state byte.
ALTER TABLE consent_events ADD COLUMN policy TEXT NOT NULL DEFAULT '';
ALTER TABLE consent_events ADD COLUMN notice TEXT NOT NULL DEFAULT '';
