-- The counselling domain. Words as in appservice/src/domain.ts (glossary).
-- No message content is ever stored: rooms hold the conversation, end-to-end encrypted.

-- A topic an advice seeker can choose (e.g. "sucht", "gewalt").
CREATE TABLE topics (
  id text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,40}$'),
  name_de text NOT NULL CHECK (length(name_de) BETWEEN 1 AND 100),
  name_en text NOT NULL CHECK (length(name_en) BETWEEN 1 AND 100),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- An agency (Beratungsstelle): counsellors, topics, the postcodes it covers.
CREATE TABLE agencies (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  languages text[] NOT NULL DEFAULT '{de}',
  -- The agency for postcodes no other agency covers (at most one).
  is_fallback boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agencies_one_fallback ON agencies (is_fallback) WHERE is_fallback;

CREATE TABLE agency_topics (
  agency_id bigint NOT NULL REFERENCES agencies ON DELETE CASCADE,
  topic_id text NOT NULL REFERENCES topics ON DELETE RESTRICT,
  PRIMARY KEY (agency_id, topic_id)
);

-- German postcodes, five digits, inclusive ranges.
CREATE TABLE agency_postcode_ranges (
  agency_id bigint NOT NULL REFERENCES agencies ON DELETE CASCADE,
  first_postcode char(5) NOT NULL CHECK (first_postcode ~ '^[0-9]{5}$'),
  last_postcode char(5) NOT NULL CHECK (last_postcode ~ '^[0-9]{5}$'),
  CHECK (first_postcode <= last_postcode),
  PRIMARY KEY (agency_id, first_postcode)
);

-- A counsellor: a Matrix user created by an operator.
CREATE TABLE counsellors (
  user_id text PRIMARY KEY CHECK (user_id ~ '^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$'),
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  language text NOT NULL DEFAULT 'de' CHECK (language IN ('de', 'en')),
  absent boolean NOT NULL DEFAULT false,
  absence_message text CHECK (length(absence_message) <= 1000),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agency_memberships (
  agency_id bigint NOT NULL REFERENCES agencies ON DELETE CASCADE,
  counsellor_id text NOT NULL REFERENCES counsellors ON DELETE CASCADE,
  role text NOT NULL DEFAULT 'counsellor' CHECK (role IN ('counsellor', 'team_lead')),
  PRIMARY KEY (agency_id, counsellor_id)
);
CREATE INDEX agency_memberships_counsellor ON agency_memberships (counsellor_id);

-- An enquiry: what an advice seeker asks, its room, and the counselling session it becomes.
-- States: created (room ready, nothing written yet) -> waiting (first message written, in the
-- queue) -> active (a counsellor took it) -> closed -> archived; closed -> active again when the
-- seeker reopens it within the reopening window.
CREATE TABLE enquiries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Idempotency key of the intake that created it (a retried intake finds its enquiry).
  intake_id uuid NOT NULL UNIQUE,
  state text NOT NULL DEFAULT 'created'
    CHECK (state IN ('created', 'waiting', 'active', 'closed', 'archived')),
  agency_id bigint NOT NULL REFERENCES agencies,
  topic_id text NOT NULL REFERENCES topics,
  language text NOT NULL CHECK (language IN ('de', 'en')),
  age_group text NOT NULL CHECK (age_group IN ('under_18', '18_26', '27_49', '50_64', '65_plus', 'unknown')),
  seeker_id text CHECK (seeker_id ~ '^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$'),
  room_id text UNIQUE,
  counsellor_id text REFERENCES counsellors,
  created_at timestamptz NOT NULL DEFAULT now(),
  waiting_since timestamptz,
  closed_at timestamptz,
  CHECK ((state = 'active') = (counsellor_id IS NOT NULL) OR state IN ('closed', 'archived')),
  CHECK (state = 'created' OR waiting_since IS NOT NULL)
);
-- The queue: waiting enquiries of an agency, oldest first.
CREATE INDEX enquiries_queue ON enquiries (agency_id, waiting_since) WHERE state = 'waiting';
CREATE INDEX enquiries_counsellor ON enquiries (counsellor_id) WHERE state = 'active';
CREATE INDEX enquiries_seeker ON enquiries (seeker_id);

-- Every assignment of a counsellor to an enquiry: the claim and each handover.
CREATE TABLE assignments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  enquiry_id bigint NOT NULL REFERENCES enquiries ON DELETE CASCADE,
  counsellor_id text NOT NULL REFERENCES counsellors,
  kind text NOT NULL CHECK (kind IN ('claim', 'handover')),
  assigned_by text NOT NULL,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz
);
-- At most one current assignment per enquiry: a second claim fails on this index.
CREATE UNIQUE INDEX assignments_current ON assignments (enquiry_id) WHERE ended_at IS NULL;

-- Matrix steps still to do for a workflow action (outbox). Written in the same database
-- transaction as the state change; done by workers on any replica (FOR UPDATE SKIP LOCKED),
-- retried until done, so a crash between steps leaves nothing half-done.
CREATE TABLE matrix_steps (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  enquiry_id bigint REFERENCES enquiries ON DELETE CASCADE,
  kind text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}',
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  run_after timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now(),
  done_at timestamptz
);
CREATE INDEX matrix_steps_pending ON matrix_steps (run_after, id) WHERE done_at IS NULL;

-- Anonymous intake: a proof-of-work challenge, used at most once.
CREATE TABLE intake_challenges (
  id uuid PRIMARY KEY,
  difficulty integer NOT NULL CHECK (difficulty BETWEEN 1 AND 32),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX intake_challenges_expiry ON intake_challenges (expires_at);

-- An intake between its checks and the seeker's registration at Synapse. It holds the
-- single-use registration token the seeker's client spends at Synapse (the password never
-- reaches us) and reserves the pseudonym until it expires.
CREATE TABLE intakes (
  id uuid PRIMARY KEY,
  pseudonym text NOT NULL CHECK (pseudonym ~ '^[a-z0-9._-]{3,30}$'),
  registration_token text NOT NULL UNIQUE,
  topic_id text NOT NULL REFERENCES topics,
  agency_id bigint NOT NULL REFERENCES agencies,
  postcode char(5) CHECK (postcode ~ '^[0-9]{5}$'),
  language text NOT NULL CHECK (language IN ('de', 'en')),
  age_group text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  completed_at timestamptz
);
CREATE UNIQUE INDEX intakes_pseudonym ON intakes (pseudonym);

-- Request counters for rate limits shared by all replicas (fixed windows).
CREATE TABLE rate_limit_counters (
  bucket text NOT NULL,
  window_start timestamptz NOT NULL,
  hits integer NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
