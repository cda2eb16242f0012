-- Retention (appservice/src/retention/, docs/privacy.md): what is no longer needed is purged on
-- a schedule the operator sets, per agency or for all.

-- Retention periods: the row without agency holds the defaults, an agency's row its own.
CREATE TABLE retention_policies (
  agency_id bigint UNIQUE NULLS NOT DISTINCT REFERENCES agencies ON DELETE CASCADE,
  -- Archived conversations are purged this many days after they were closed.
  archived_days integer NOT NULL CHECK (archived_days BETWEEN 0 AND 3650),
  -- Intakes never completed, and conversations in which the seeker never wrote, after this many hours.
  unfinished_hours integer NOT NULL CHECK (unfinished_hours BETWEEN 1 AND 8760),
  -- Conversations (and their seekers) without any event for this many days.
  inactive_days integer NOT NULL CHECK (inactive_days BETWEEN 1 AND 3650),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO retention_policies (agency_id, archived_days, unfinished_hours, inactive_days) VALUES (NULL, 30, 48, 180);

-- The retention periods that apply to an agency: its own, else the defaults.
CREATE FUNCTION agency_retention(agency bigint)
  RETURNS TABLE (archived_days integer, unfinished_hours integer, inactive_days integer)
  LANGUAGE sql STABLE AS $$
    SELECT coalesce(p.archived_days, d.archived_days), coalesce(p.unfinished_hours, d.unfinished_hours),
           coalesce(p.inactive_days, d.inactive_days)
      FROM retention_policies d LEFT JOIN retention_policies p ON p.agency_id = agency
     WHERE d.agency_id IS NULL
  $$;

-- When anything last happened in an enquiry's room (an event of any kind; never its content),
-- for the inactivity period.
ALTER TABLE enquiries ADD COLUMN last_activity_at timestamptz;
UPDATE enquiries SET last_activity_at = greatest(created_at, waiting_since, closed_at);
ALTER TABLE enquiries ALTER COLUMN last_activity_at SET DEFAULT now();
ALTER TABLE enquiries ALTER COLUMN last_activity_at SET NOT NULL;

-- A purge under way: its row is written with the purge's steps and goes with the enquiry in the
-- last step. Its existence marks the enquiry as being purged, so no second sweep schedules it.
CREATE TABLE purges (
  enquiry_id bigint PRIMARY KEY REFERENCES enquiries ON DELETE CASCADE,
  reason text NOT NULL CHECK (reason IN ('archived', 'unfinished', 'inactive', 'erasure')),
  -- Media of the room, collected before the room is deleted (mxc://server/id).
  media text[] NOT NULL DEFAULT '{}',
  scheduled_at timestamptz NOT NULL DEFAULT now()
);

-- Files sent in an enquiry's room, as the sending client reports them: the homeserver cannot see
-- them in encrypted events, and the purge deletes them with the room. Only ids, never content.
CREATE TABLE enquiry_media (
  enquiry_id bigint NOT NULL REFERENCES enquiries ON DELETE CASCADE,
  media_id text NOT NULL CHECK (media_id ~ '^mxc://[A-Za-z0-9.:-]+/[A-Za-z0-9_-]+$'),
  PRIMARY KEY (enquiry_id, media_id)
);
