-- Up Migration

-- Card ranges as created (PCARDS mirrors).
CREATE TABLE ranges (
  id          text PRIMARY KEY,
  from_number text NOT NULL,
  record      jsonb NOT NULL
);

-- Cards: the whole card in `record`, and the columns every lookup and check uses. Numbers
-- order by length, then digits (`000150` after `99999`), as everywhere in the service.
CREATE TABLE cards (
  number         text PRIMARY KEY,
  state          text NOT NULL,
  virtual        boolean NOT NULL,
  has_holder     boolean NOT NULL,
  phone          text,
  reserved_phone text,
  reserved_by    text,
  activation_id  text,
  expires_at     text,
  updated_at     text NOT NULL,
  record         jsonb NOT NULL
);
CREATE INDEX cards_order ON cards (length(number), number);
CREATE INDEX cards_phone ON cards (phone) WHERE phone IS NOT NULL;
CREATE INDEX cards_reserved_phone ON cards (reserved_phone) WHERE reserved_phone IS NOT NULL;
CREATE INDEX cards_reserved_by ON cards (reserved_by) WHERE reserved_by IS NOT NULL;
CREATE INDEX cards_activation ON cards (activation_id) WHERE activation_id IS NOT NULL;
-- The pool of free virtual cards, first number first.
CREATE INDEX cards_pool ON cards (length(number), number) WHERE virtual AND state = 'inactive';
-- Issued cards, walked a page at a time by campaigns and exports.
CREATE INDEX cards_issued ON cards (length(number), number) WHERE has_holder;

-- Down Migration
DROP TABLE cards;
DROP TABLE ranges;
