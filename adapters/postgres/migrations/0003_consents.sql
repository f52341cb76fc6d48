-- Up Migration

-- The consent ledger: one row per phone (or per keyed hash after an erasure), its whole history
-- in `record`, and whether it may get news (`yes`, `optedOut`, `none`) for campaign audiences.
CREATE TABLE consents (
  phone  text PRIMARY KEY,
  news   text NOT NULL,
  record jsonb NOT NULL
);
CREATE INDEX consents_news ON consents (news, phone);

-- Down Migration
DROP TABLE consents;
