-- Up Migration

-- Each erasure of a guest: who, when, the keyed hash their records now carry, what changed.
-- Never the phone.
CREATE TABLE erasures (
  id     text PRIMARY KEY,
  at     text NOT NULL,
  record jsonb NOT NULL
);

-- Down Migration
DROP TABLE erasures;
