-- Which subjects each export included, with their record counts, as
-- export.SubjectSet's stored form (a million subjects in a few megabytes).
ALTER TABLE exports ADD COLUMN subjects BLOB;
