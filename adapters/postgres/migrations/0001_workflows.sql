-- Up Migration

-- Live workflows: the record as the host keeps it (machine snapshot, pending effects), with the
-- columns the engine searches by. `version` is bumped by every write (compare-and-set). A due
-- deadline is claimed by one instance for a short lease (`claimed_until`) before it fires.
CREATE TABLE workflows (
  id            text PRIMARY KEY,
  kind          text NOT NULL,
  version       integer NOT NULL,
  due           bigint,
  phone         text,
  claimed_until bigint,
  record        jsonb NOT NULL
);
CREATE INDEX workflows_due ON workflows (due) WHERE due IS NOT NULL;
CREATE INDEX workflows_phone ON workflows (phone) WHERE phone IS NOT NULL;

-- Closed records by kind and day (the day in the record's id), searchable by id, phone, card and
-- terminal; retention rewrites or deletes whole days.
CREATE TABLE archive (
  seq      bigserial PRIMARY KEY,
  kind     text NOT NULL,
  day      text NOT NULL,
  id       text,
  phone    text,
  card     text,
  terminal text,
  record   jsonb NOT NULL
);
CREATE INDEX archive_kind_day ON archive (kind, day, seq);
CREATE INDEX archive_id ON archive (id) WHERE id IS NOT NULL;
CREATE INDEX archive_phone ON archive (phone, day) WHERE phone IS NOT NULL;
CREATE INDEX archive_card ON archive (card, day) WHERE card IS NOT NULL;
CREATE INDEX archive_terminal ON archive (terminal, day) WHERE terminal IS NOT NULL;

-- Down Migration
DROP TABLE archive;
DROP TABLE workflows;
