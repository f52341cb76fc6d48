-- Up Migration

-- API tokens made with the CLI: only their SHA-256 hashes. `api_token_mark` changes with every
-- change, so instances notice a new or revoked token by reading one row.
CREATE TABLE api_tokens (
  id         text PRIMARY KEY,
  role       text NOT NULL,
  hash       text NOT NULL UNIQUE,
  label      text NOT NULL,
  created_at text NOT NULL
);
CREATE TABLE api_token_mark (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  mark bigint NOT NULL
);
INSERT INTO api_token_mark (mark) VALUES (0);

-- Down Migration
DROP TABLE api_token_mark;
DROP TABLE api_tokens;
