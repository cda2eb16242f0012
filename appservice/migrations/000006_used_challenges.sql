-- Intake challenges are signed and stateless now (appservice/src/intake/challenge.ts): handing
-- one out costs no row, so a flood of challenge requests fills no table. A challenge is recorded
-- only once it was solved and used, which keeps it single-use; the row is kept an hour past the
-- challenge's expiry so that a retried intake finds it. Challenges of the old kind (UUIDs) are
-- no longer accepted; a client holding one gets CONNECTA_CHALLENGE_FAILED and fetches a new one.
DROP TABLE intake_challenges;

CREATE TABLE used_challenges (
  -- The challenge's random id (12 bytes, hex).
  id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{24}$'),
  expires_at timestamptz NOT NULL,
  used_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX used_challenges_expiry ON used_challenges (expires_at);
