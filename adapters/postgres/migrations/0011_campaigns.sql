-- Up Migration

-- Campaign definitions, as the service writes them.
CREATE TABLE campaigns (
  id  text PRIMARY KEY,
  def jsonb NOT NULL
);

-- Each run's books: counts, the batch in flight, the retry list (one row per run each).
CREATE TABLE campaign_counts (
  run_id text PRIMARY KEY,
  counts jsonb NOT NULL
);
CREATE TABLE campaign_batches (
  run_id text PRIMARY KEY,
  row    jsonb NOT NULL
);
CREATE TABLE campaign_retries (
  run_id text PRIMARY KEY,
  row    jsonb NOT NULL
);

-- Each run's plan: its recipients in order, a line `phone,card` each, written once.
CREATE TABLE campaign_plans (
  run_id text PRIMARY KEY,
  body   text NOT NULL
);

-- Each run's outcome lines, in the order written (a phone's later line completes its earlier).
CREATE TABLE campaign_lines (
  seq    bigserial PRIMARY KEY,
  run_id text NOT NULL,
  phone  text NOT NULL,
  line   jsonb NOT NULL
);
CREATE INDEX campaign_lines_run ON campaign_lines (run_id, seq);
CREATE INDEX campaign_lines_phone ON campaign_lines (phone, run_id);

-- When each run's delivery statuses are next asked for.
CREATE TABLE campaign_sweeps (
  run_id text PRIMARY KEY,
  row    jsonb NOT NULL
);

-- Down Migration
DROP TABLE campaign_sweeps;
DROP TABLE campaign_lines;
DROP TABLE campaign_plans;
DROP TABLE campaign_retries;
DROP TABLE campaign_batches;
DROP TABLE campaign_counts;
DROP TABLE campaigns;
