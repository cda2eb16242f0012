-- Counsellors' control rooms (appservice/src/control/, docs/control-room.md): an unencrypted
-- room per counsellor (their Synapse server-notices room) where they write commands such as
-- "queue" or "take 12". It never holds seeker content.

-- A counsellor's control room, learnt from the first notice Synapse put into it.
CREATE TABLE control_rooms (
  counsellor_id text PRIMARY KEY REFERENCES counsellors ON DELETE CASCADE,
  room_id text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Commands received from control rooms, recorded in the transaction that records their Synapse
-- transaction and answered after it by a worker (a command needs Synapse and its own database
-- transactions). The event id makes a command that Synapse sends again (in the same or another
-- transaction) a no-op, so every command is answered once. Only the parsed command is kept, never
-- the message, and answered commands are deleted after a week.
CREATE TABLE control_commands (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  counsellor_id text NOT NULL REFERENCES counsellors ON DELETE CASCADE,
  room_id text NOT NULL,
  command jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 0,
  -- A worker that takes a command leases it until then; after a failure, the backoff.
  run_after timestamptz NOT NULL DEFAULT now(),
  last_error text,
  answered_at timestamptz
);
CREATE INDEX control_commands_pending ON control_commands (id) WHERE answered_at IS NULL;
CREATE INDEX control_commands_answered ON control_commands (answered_at) WHERE answered_at IS NOT NULL;
