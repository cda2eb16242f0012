-- Events of Synapse transactions that could not be handled (appservice/src/transactions/): each
-- is rolled back to its own savepoint, recorded here and skipped, so that one bad event never
-- stops the events after it. Never the content: ids, type and a short reason (the field refused
-- at the edge, or the error with quoted input left out). Deleted after 30 days.
CREATE TABLE skipped_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txn_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('timeline', 'ephemeral')),
  event_id text,
  room_id text,
  type text NOT NULL,
  sender text,
  reason text NOT NULL,
  skipped_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skipped_events_skipped_at ON skipped_events (skipped_at);
