-- The settings, macros and state tables of export.sql: the
-- benchmark export (purpose train_ai_system.generative, recipient
-- partner-x, as of {asof}) as a data engineer would write it, the three
-- policy versions of internal/demo/policies compiled by hand, SPEC
-- §2.2–2.4 applied to this world's fields.
SET threads = {threads};
SET preserve_insertion_order = true;

-- The strict regions: "@EEA" plus GB CH CA HK CN, a code matching its
-- subdivisions too (ES matches ES-CT).
CREATE MACRO strict_region(r) AS split_part(r, '-', 1) IN ('AT', 'BE', 'BG', 'HR', 'CY', 'CZ', 'DK', 'EE', 'FI', 'FR', 'DE', 'GR', 'IE', 'IT', 'LV', 'LT', 'LU', 'MT', 'NL', 'PL', 'PT', 'RO', 'SK', 'SI', 'ES', 'SE', 'HU', 'IS', 'LI', 'NO', 'GB', 'CH', 'CA', 'HK', 'CN');

-- Version 2024-09-18 for a third party and train_ai_system.generative:
-- the deny rules in order, a refusal, the require_consent rule, then the
-- opt-out default (everything is declared).
CREATE MACRO v20240918(kind, region, tier, c) AS
    region IS NOT NULL AND NOT strict_region(region)                                       -- no-region-no-training, no-ai-training-in-strict-regions
    AND NOT (kind = 'user.content.private.message' AND coalesce(tier = 'premium', false))  -- premium-messages-stay-private
    AND coalesce(c, '') <> 'denied'                                                       -- consent.denied
    AND (coalesce(c, '') = 'granted' OR NOT (kind = 'user.content.private' OR starts_with(kind, 'user.content.private.')));  -- private-content-needs-opt-in

-- The check under the version in force at time t: 2024-08-01 did not
-- declare partner-x and 2022-01-01 required consent for any AI training,
-- so only a grant passes; before 2022-01-01 no version was in force.
CREATE MACRO collection(t, kind, region, tier, c) AS CASE
    WHEN t >= TIMESTAMPTZ '2024-09-18T00:00:00Z' THEN v20240918(kind, region, tier, c)
    WHEN t >= TIMESTAMPTZ '2024-08-01T00:00:00Z' THEN region IS NOT NULL AND NOT strict_region(region) AND coalesce(c, '') = 'granted'
    ELSE coalesce(c, '') = 'granted' END;

-- A field's value at time t from its history (sorted by time): the
-- latest at or before t, else the earliest.
CREATE MACRO at_time(hist, t) AS coalesce(list_filter(hist, x -> x.ts <= t)[-1].v, hist[1].v);

-- Both checks of one subject on a record (SPEC §2.3): now, under the
-- as-of version with the subject's present state, and at collection,
-- under the version in force at the record's creation with the state then.
CREATE MACRO subject_ok(kind, created, regions, tiers, c) AS
    v20240918(kind, regions[-1].v, tiers[-1].v, c)
    AND collection(created, kind, at_time(regions, created), at_time(tiers, created), c);

-- Subject events seen at the as-of time; each field's history, sorted
-- by time and then file order (a field's value at t is the latest at or
-- before t that sets it, else the earliest: at_time).
CREATE TEMP TABLE subj AS
  SELECT subject,
    list_sort(list({ts: ts, seq: seq, v: region}) FILTER (WHERE region IS NOT NULL)) AS regions,
    list_sort(list({ts: ts, seq: seq, v: tier}) FILTER (WHERE tier IS NOT NULL)) AS tiers
  FROM read_parquet({subjects}) WHERE ts <= TIMESTAMPTZ '{asof}' GROUP BY subject;

-- Consent at the as-of time: the latest applicable event (the purpose or
-- an ancestor; any recipient, partner-x's class or its id); a grant that
-- does not name partner-x reaches it only if given under a version that
-- declared it (2024-09-18 on); ties to the later-recorded.
CREATE TEMP TABLE cons AS
  SELECT subject, arg_max(state, (ts, seq)) AS c
  FROM read_parquet({consent})
  WHERE ts <= TIMESTAMPTZ '{asof}'
    AND purpose IN ('train_ai_system', 'train_ai_system.generative')
    AND (recipient IS NULL OR recipient IN ('*', 'third_party', 'partner-x'))
    AND (state = 'denied' OR recipient IS NOT DISTINCT FROM 'partner-x' OR ts >= TIMESTAMPTZ '2024-09-18T00:00:00Z')
  GROUP BY subject;

-- The subjects of the recipient field: absent or null adds none; a string
-- or an array of strings; anything else a subject that is never known.
CREATE MACRO recipients(j) AS CASE
    WHEN j IS NULL OR json_type(j) = 'NULL' THEN []
    WHEN json_type(j) = 'ARRAY' THEN j->>'$[*]'
    WHEN json_type(j) = 'VARCHAR' THEN [j->>'$']
    ELSE [NULL] END;

