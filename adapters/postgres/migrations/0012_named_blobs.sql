-- Up Migration

-- Small named texts the service keeps whole (the retention run's state).
CREATE TABLE named_blobs (
  name text PRIMARY KEY,
  body text NOT NULL
);

-- Down Migration
DROP TABLE named_blobs;
