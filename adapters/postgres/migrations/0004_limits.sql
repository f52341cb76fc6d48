-- Up Migration

-- Sliding one-hour windows: the hit times (ms) inside each, oldest first.
CREATE TABLE limit_windows (
  key  text PRIMARY KEY,
  hits bigint[] NOT NULL,
  last bigint NOT NULL
);
CREATE INDEX limit_windows_last ON limit_windows (last);

-- Day counters of SMS segments (the service's, each token's), by the venue's day.
CREATE TABLE limit_days (
  key   text PRIMARY KEY,
  day   text NOT NULL,
  count integer NOT NULL
);
CREATE INDEX limit_days_day ON limit_days (day);

-- Down Migration
DROP TABLE limit_days;
DROP TABLE limit_windows;
