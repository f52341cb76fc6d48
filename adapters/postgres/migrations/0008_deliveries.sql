-- Up Migration

-- Messages whose delivery status is asked of their provider on a thinning schedule. A poll
-- claims the due ones for a lease (`claimed_until`): instances polling together ask once.
CREATE TABLE deliveries (
  key           text PRIMARY KEY,
  phone         text NOT NULL,
  status        text NOT NULL,
  settled       boolean NOT NULL,
  next_at       bigint NOT NULL,
  created_at    bigint NOT NULL,
  claimed_until bigint,
  record        jsonb NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE NOT settled;
CREATE INDEX deliveries_phone ON deliveries (phone);
CREATE INDEX deliveries_settled ON deliveries (created_at) WHERE settled;

-- Down Migration
DROP TABLE deliveries;
