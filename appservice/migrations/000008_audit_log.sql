-- The security event log (appservice/src/audit/): an append-only, hash-chained record of who did
-- what to whom, for incident handling (docs/runbooks/incident.md). Entries name ids, never
-- message content.
--
-- Append-only: the triggers below refuse UPDATE, DELETE and TRUNCATE for every role, the
-- application service's own included. The owner of the table or a superuser can still disable
-- the triggers (ALTER TABLE ... DISABLE TRIGGER, session_replication_role = replica) and change
-- rows; that is what the hash chain is for: `connecta-admin audit verify` finds the first entry
-- that was changed, removed or moved.
--
-- Chain: ids are given by the writer (the last id + 1, under an advisory lock, see
-- LOCK_SPACE.AUDIT_CHAIN in appservice/src/db/codes.ts), not by a sequence, so a gap means a
-- removed entry; `hash` is SHA-256 over the previous entry's hash and the entry's canonical form
-- (appservice/src/audit/audit.ts).
CREATE TABLE audit_log (
  id bigint PRIMARY KEY CHECK (id >= 1),
  -- When the entry was appended (clock_timestamp() under the chain lock: never decreasing).
  at timestamptz NOT NULL,
  -- A (pseudonymous) Matrix user id, 'operator', 'system' or 'anonymous' (an unauthenticated caller).
  actor text NOT NULL CHECK (actor IN ('operator', 'system', 'anonymous') OR actor ~ '^@[^:]+:.+$'),
  -- One of the closed set of names in appservice/src/audit/actions.ts.
  action text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
  -- The id the action was about (a user id, agency id, topic id, path); never content.
  target text CHECK (length(target) <= 300),
  -- Only for refused credentials: the client address they came from.
  client_address text CHECK (length(client_address) <= 64),
  class text NOT NULL CHECK (class IN ('low', 'medium', 'high', 'critical')),
  -- How many occurrences the entry stands for (refusals are collapsed per address and minute).
  count integer NOT NULL DEFAULT 1 CHECK (count >= 1),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- How far the webhook (CONNECTA_AUDIT_WEBHOOK_URL) has been told about high and critical entries.
CREATE TABLE audit_webhook_cursor (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  last_id bigint NOT NULL DEFAULT 0
);
INSERT INTO audit_webhook_cursor DEFAULT VALUES;
