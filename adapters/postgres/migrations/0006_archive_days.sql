-- Up Migration

-- The days each kind's archive holds, kept as records are archived: listing them reads this
-- small table, not the archive.
CREATE TABLE archive_days (
  kind text NOT NULL,
  day  text NOT NULL,
  PRIMARY KEY (kind, day)
);
INSERT INTO archive_days (kind, day) SELECT DISTINCT kind, day FROM archive;

-- Down Migration
DROP TABLE archive_days;
