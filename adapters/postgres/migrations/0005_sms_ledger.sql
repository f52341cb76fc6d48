-- Up Migration

-- The SMS ledger of PIN sends, keyed `workflowId:sendNo`: the intent is written before an SMS
-- leaves, so a re-run of the send never sends one recorded as sent. Rows of a workflow go when
-- it ends.
CREATE TABLE sms_ledger (
  key      text PRIMARY KEY,
  workflow text NOT NULL,
  state    text NOT NULL,
  record   jsonb NOT NULL
);
CREATE INDEX sms_ledger_workflow ON sms_ledger (workflow);

-- Down Migration
DROP TABLE sms_ledger;
