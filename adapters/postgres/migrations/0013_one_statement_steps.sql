-- Up Migration

-- Who runs a live workflow's pending effects, and until when: the write that starts an effect
-- names its runner in the same row (no write of its own), another instance takes the effects up
-- once the lease has run out. Replaces the lease table.
ALTER TABLE workflows ADD COLUMN lease_owner text, ADD COLUMN lease_until bigint;
DROP TABLE effect_leases;

-- A live record (a few kilobytes) is rewritten at every step of its workflow and lives minutes:
-- kept whole in its row up to a page, not compressed at each write (the default above 2 kB).
ALTER TABLE workflows SET (toast_tuple_target = 8160);

-- The limit counters are a few rows every request of a till (its token's window and day) or of
-- the whole service (the day's SMS budget) changes: a change holds its row until it commits, so
-- a commit that waited for the disk would queue every request behind each flush. They commit
-- without waiting (`synchronous_commit` off for their own transaction): the WAL is flushed in
-- order, so the next write of the same request that does wait — the workflow's, or the SMS
-- ledger's intent, each before anything is answered or sent — puts the count on disk too. A
-- server crash can lose only counts of requests that were never answered and sent nothing.

-- Limit checks and their counts, many at once, as one statement: `reqs` is a JSON array of
-- {keys, limits, at, window}. Every key's row is made if missing and locked in key order (two
-- statements sharing keys queue; none deadlocks), then each request in turn either has its first
-- rule at its limit answered — its position in `reqs` from 0, the rule's index from 0, and the
-- hit that must leave its window first — and nothing counted, or every window gets the hit and
-- no row is answered for it.
CREATE FUNCTION smspds_limit_hit(reqs jsonb)
RETURNS TABLE (n integer, refused integer, leaves bigint) LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
  i integer;
  every_key text[];
  keys text[];
  limits integer[];
  at bigint;
  window_ms bigint;
  h bigint[];
  kept bigint[];
  k integer;
  ok boolean;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  every_key := ARRAY(SELECT DISTINCT key
                       FROM jsonb_array_elements(reqs) q, jsonb_array_elements_text(q->'keys') AS key
                      ORDER BY key);
  INSERT INTO limit_windows (key, hits, last) SELECT key, '{}'::bigint[], 0 FROM unnest(every_key) key
    ON CONFLICT (key) DO NOTHING;
  PERFORM 1 FROM limit_windows WHERE key = ANY(every_key) ORDER BY key FOR UPDATE;
  FOR r, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(reqs) WITH ORDINALITY LOOP
    keys := ARRAY(SELECT jsonb_array_elements_text(r->'keys'));
    limits := ARRAY(SELECT jsonb_array_elements_text(r->'limits')::integer);
    at := (r->>'at')::bigint;
    window_ms := (r->>'window')::bigint;
    ok := true;
    FOR k IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
      SELECT hits INTO h FROM limit_windows WHERE key = keys[k];
      kept := ARRAY(SELECT t FROM unnest(h) WITH ORDINALITY AS u(t, o) WHERE t > at - window_ms ORDER BY o);
      IF coalesce(array_length(kept, 1), 0) >= limits[k] THEN
        n := i;
        refused := k - 1;
        leaves := kept[array_length(kept, 1) - limits[k] + 1];
        RETURN NEXT;
        ok := false;
        EXIT;
      END IF;
    END LOOP;
    CONTINUE WHEN NOT ok;
    FOR k IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
      SELECT hits INTO h FROM limit_windows WHERE key = keys[k];
      kept := ARRAY(SELECT t FROM unnest(h) WITH ORDINALITY AS u(t, o) WHERE t > at - window_ms ORDER BY o) || at;
      UPDATE limit_windows
         SET hits = kept[greatest(1, array_length(kept, 1) - limits[k] + 1):], last = at
       WHERE key = keys[k];
    END LOOP;
  END LOOP;
END $$;

-- Day counters, many changes at once, as one statement: `reqs` is a JSON array of
-- {key, day, want, cap, whole}; each in turn adds up to `want` to its counter, at most what keeps
-- it within `cap` (0: no cap) — with `whole`, all of `want` or nothing. Answers each request's
-- position from 0 and how much it added. Rows are locked in key order first.
CREATE FUNCTION smspds_limit_add_day(reqs jsonb)
RETURNS TABLE (n integer, added integer) LANGUAGE plpgsql AS $$
DECLARE
  r jsonb;
  i integer;
  c integer;
  every_key text[];
  want integer;
  cap integer;
  room integer;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  every_key := ARRAY(SELECT DISTINCT q->>'key' FROM jsonb_array_elements(reqs) q ORDER BY 1);
  INSERT INTO limit_days (key, day, count)
    SELECT DISTINCT ON (q->>'key') q->>'key', q->>'day', 0 FROM jsonb_array_elements(reqs) q
     ORDER BY q->>'key'
    ON CONFLICT (key) DO NOTHING;
  PERFORM 1 FROM limit_days WHERE key = ANY(every_key) ORDER BY key FOR UPDATE;
  FOR r, i IN SELECT value, ordinality - 1 FROM jsonb_array_elements(reqs) WITH ORDINALITY LOOP
    SELECT count INTO c FROM limit_days WHERE key = r->>'key';
    want := (r->>'want')::integer;
    cap := (r->>'cap')::integer;
    room := CASE WHEN cap > 0 THEN greatest(0, cap - c) END;
    added := CASE WHEN room IS NULL THEN want
                  WHEN (r->>'whole')::boolean THEN CASE WHEN want <= room THEN want ELSE 0 END
                  ELSE least(want, room) END;
    IF added > 0 THEN
      UPDATE limit_days SET count = count + added WHERE key = r->>'key';
    END IF;
    n := i;
    RETURN NEXT;
  END LOOP;
END $$;

-- Down Migration
DROP FUNCTION smspds_limit_add_day(jsonb);
DROP FUNCTION smspds_limit_hit(jsonb);
CREATE TABLE effect_leases (
  workflow text NOT NULL,
  seq      integer NOT NULL,
  owner    text NOT NULL,
  until    bigint NOT NULL,
  PRIMARY KEY (workflow, seq)
);
ALTER TABLE workflows RESET (toast_tuple_target);
ALTER TABLE workflows DROP COLUMN lease_until, DROP COLUMN lease_owner;
