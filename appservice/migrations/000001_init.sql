-- Transactions Synapse pushed to us. A transaction is processed in the same database
-- transaction that records its id, so a re-sent transaction (after a crash of Synapse or of
-- this service) is acknowledged without being processed twice. `event_ids_digest` tells a
-- genuinely new transaction that reuses an id (Synapse restored from an older backup) from a
-- re-send. No event content is stored.
CREATE TABLE appservice_transactions (
  txn_id text PRIMARY KEY,
  event_ids_digest text NOT NULL,
  event_count integer NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
