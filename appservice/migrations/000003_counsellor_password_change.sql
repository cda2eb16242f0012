-- Counsellor accounts created by operators (appservice/src/admin/counsellors.ts).

-- A counsellor's first password is generated and shown once to the operator, who hands it on.
-- The counsellor must replace it at the first login (the client enforces this); an operator's
-- password reset sets it again.
ALTER TABLE counsellors ADD COLUMN must_change_password boolean NOT NULL DEFAULT true;

-- A deactivated counsellor keeps its row (enquiries and assignments refer to it) but has no
-- memberships and no usable Matrix account. Matrix user ids are never given out again.
ALTER TABLE counsellors ADD COLUMN deactivated_at timestamptz;

-- A counsellor's Matrix account being created. Written and committed before the account is
-- created at Synapse, deleted in the transaction that writes the counsellors row. A retry that
-- finds it knows that an account created since `started_at` is the one an earlier attempt made,
-- and completes the creation instead of refusing the user id as taken.
CREATE TABLE counsellor_account_creations (
  user_id text PRIMARY KEY CHECK (user_id ~ '^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$'),
  started_at timestamptz NOT NULL DEFAULT now()
);
