-- Up Migration

-- Who runs each pending effect of a live workflow, and until when: instances run an effect one
-- at a time, and take up one whose runner stopped once its lease has run out.
CREATE TABLE effect_leases (
  workflow text NOT NULL,
  seq      integer NOT NULL,
  owner    text NOT NULL,
  until    bigint NOT NULL,
  PRIMARY KEY (workflow, seq)
);

-- Down Migration
DROP TABLE effect_leases;
