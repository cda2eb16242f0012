CREATE FUNCTION public.agency_retention(agency bigint) RETURNS TABLE(archived_days integer, unfinished_hours integer, inactive_days integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(p.archived_days, d.archived_days), coalesce(p.unfinished_hours, d.unfinished_hours),
           coalesce(p.inactive_days, d.inactive_days)
      FROM retention_policies d LEFT JOIN retention_policies p ON p.agency_id = agency
     WHERE d.agency_id IS NULL
  $$;
CREATE FUNCTION public.audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TABLE public.agencies (
    id bigint NOT NULL,
    name text NOT NULL,
    languages text[] DEFAULT '{de}'::text[] NOT NULL,
    is_fallback boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agencies_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);
ALTER TABLE public.agencies ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.agencies_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE public.agency_memberships (
    agency_id bigint NOT NULL,
    counsellor_id text NOT NULL,
    role text DEFAULT 'counsellor'::text NOT NULL,
    CONSTRAINT agency_memberships_role_check CHECK ((role = ANY (ARRAY['counsellor'::text, 'team_lead'::text])))
);
CREATE TABLE public.agency_postcode_ranges (
    agency_id bigint NOT NULL,
    first_postcode character(5) NOT NULL,
    last_postcode character(5) NOT NULL,
    CONSTRAINT agency_postcode_ranges_check CHECK ((first_postcode <= last_postcode)),
    CONSTRAINT agency_postcode_ranges_first_postcode_check CHECK ((first_postcode ~ '^[0-9]{5}$'::text)),
    CONSTRAINT agency_postcode_ranges_last_postcode_check CHECK ((last_postcode ~ '^[0-9]{5}$'::text))
);
CREATE TABLE public.agency_topics (
    agency_id bigint NOT NULL,
    topic_id text NOT NULL
);
CREATE TABLE public.appservice_transactions (
    txn_id text NOT NULL,
    event_ids_digest text NOT NULL,
    event_count integer NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE public.assignments (
    id bigint NOT NULL,
    enquiry_id bigint NOT NULL,
    counsellor_id text NOT NULL,
    kind text NOT NULL,
    assigned_by text NOT NULL,
    assigned_at timestamp with time zone DEFAULT now() NOT NULL,
    ended_at timestamp with time zone,
    CONSTRAINT assignments_kind_check CHECK ((kind = ANY (ARRAY['claim'::text, 'handover'::text])))
);
ALTER TABLE public.assignments ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.assignments_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE public.audit_log (
    id bigint NOT NULL,
    at timestamp with time zone NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text,
    client_address text,
    class text NOT NULL,
    count integer DEFAULT 1 NOT NULL,
    hash text NOT NULL,
    CONSTRAINT audit_log_action_check CHECK ((action ~ '^[a-z_]+\.[a-z_]+$'::text)),
    CONSTRAINT audit_log_actor_check CHECK (((actor = ANY (ARRAY['operator'::text, 'system'::text, 'anonymous'::text])) OR (actor ~ '^@[^:]+:.+$'::text))),
    CONSTRAINT audit_log_class_check CHECK ((class = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text, 'critical'::text]))),
    CONSTRAINT audit_log_client_address_check CHECK ((length(client_address) <= 64)),
    CONSTRAINT audit_log_count_check CHECK ((count >= 1)),
    CONSTRAINT audit_log_hash_check CHECK ((hash ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT audit_log_id_check CHECK ((id >= 1)),
    CONSTRAINT audit_log_target_check CHECK ((length(target) <= 300))
);
CREATE TABLE public.audit_webhook_cursor (
    only_row boolean DEFAULT true NOT NULL,
    last_id bigint DEFAULT 0 NOT NULL,
    CONSTRAINT audit_webhook_cursor_only_row_check CHECK (only_row)
);
CREATE TABLE public.connecta_migrations (
    id integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE public.control_commands (
    id bigint NOT NULL,
    event_id text NOT NULL,
    counsellor_id text NOT NULL,
    room_id text NOT NULL,
    command jsonb NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    last_error text,
    answered_at timestamp with time zone
);
ALTER TABLE public.control_commands ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.control_commands_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE public.control_rooms (
    counsellor_id text NOT NULL,
    room_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);
CREATE TABLE public.counsellor_account_creations (
    user_id text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT counsellor_account_creations_user_id_check CHECK ((user_id ~ '^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$'::text))
);
CREATE TABLE public.counsellors (
    user_id text NOT NULL,
    display_name text NOT NULL,
    language text DEFAULT 'de'::text NOT NULL,
    absent boolean DEFAULT false NOT NULL,
    absence_message text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    must_change_password boolean DEFAULT true NOT NULL,
    deactivated_at timestamp with time zone,
    CONSTRAINT counsellors_absence_message_check CHECK ((length(absence_message) <= 1000)),
    CONSTRAINT counsellors_display_name_check CHECK (((length(display_name) >= 1) AND (length(display_name) <= 100))),
    CONSTRAINT counsellors_language_check CHECK ((language = ANY (ARRAY['de'::text, 'en'::text]))),
    CONSTRAINT counsellors_user_id_check CHECK ((user_id ~ '^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$'::text))
);
CREATE TABLE public.enquiries (
    id bigint NOT NULL,
    intake_id uuid NOT NULL,
    state text DEFAULT 'created'::text NOT NULL,
    agency_id bigint NOT NULL,
    topic_id text NOT NULL,
    language text NOT NULL,
    age_group text NOT NULL,
    seeker_id text,
    room_id text,
    counsellor_id text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    waiting_since timestamp with time zone,
    closed_at timestamp with time zone,
    last_activity_at timestamp with time zone DEFAULT now() NOT NULL,
    notes_room_id text,
    CONSTRAINT enquiries_age_group_check CHECK ((age_group = ANY (ARRAY['under_18'::text, '18_26'::text, '27_49'::text, '50_64'::text, '65_plus'::text, 'unknown'::text]))),
    CONSTRAINT enquiries_check CHECK ((((state = 'active'::text) = (counsellor_id IS NOT NULL)) OR (state = ANY (ARRAY['closed'::text, 'archived'::text])))),
    CONSTRAINT enquiries_check1 CHECK (((state = 'created'::text) OR (waiting_since IS NOT NULL))),
    CONSTRAINT enquiries_language_check CHECK ((language = ANY (ARRAY['de'::text, 'en'::text]))),
    CONSTRAINT enquiries_seeker_id_check CHECK ((seeker_id ~ '^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$'::text)),
    CONSTRAINT enquiries_state_check CHECK ((state = ANY (ARRAY['created'::text, 'waiting'::text, 'active'::text, 'closed'::text, 'archived'::text])))
);
ALTER TABLE public.enquiries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.enquiries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE public.enquiry_media (
    enquiry_id bigint NOT NULL,
    media_id text NOT NULL,
    CONSTRAINT enquiry_media_media_id_check CHECK ((media_id ~ '^mxc://[A-Za-z0-9.:-]+/[A-Za-z0-9_-]+$'::text))
);
CREATE TABLE public.intakes (
    id uuid NOT NULL,
    pseudonym text NOT NULL,
    registration_token text NOT NULL,
    topic_id text NOT NULL,
    agency_id bigint NOT NULL,
    postcode character(5),
    language text NOT NULL,
    age_group text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    completed_at timestamp with time zone,
    CONSTRAINT intakes_language_check CHECK ((language = ANY (ARRAY['de'::text, 'en'::text]))),
    CONSTRAINT intakes_postcode_check CHECK ((postcode ~ '^[0-9]{5}$'::text)),
    CONSTRAINT intakes_pseudonym_check CHECK ((pseudonym ~ '^[a-z0-9._-]{3,30}$'::text))
);
CREATE TABLE public.matrix_steps (
    id bigint NOT NULL,
    enquiry_id bigint,
    kind text NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    done_at timestamp with time zone,
    CONSTRAINT matrix_steps_done_without_payload CHECK (((done_at IS NULL) OR (payload = '{}'::jsonb)))
);
ALTER TABLE public.matrix_steps ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.matrix_steps_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE public.purges (
    enquiry_id bigint NOT NULL,
    reason text NOT NULL,
    media text[] DEFAULT '{}'::text[] NOT NULL,
    scheduled_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT purges_reason_check CHECK ((reason = ANY (ARRAY['archived'::text, 'unfinished'::text, 'inactive'::text, 'erasure'::text])))
);
CREATE TABLE public.rate_limit_counters (
    bucket text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL
);
CREATE TABLE public.retention_policies (
    agency_id bigint,
    archived_days integer NOT NULL,
    unfinished_hours integer NOT NULL,
    inactive_days integer NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT retention_policies_archived_days_check CHECK (((archived_days >= 0) AND (archived_days <= 3650))),
    CONSTRAINT retention_policies_inactive_days_check CHECK (((inactive_days >= 1) AND (inactive_days <= 3650))),
    CONSTRAINT retention_policies_unfinished_hours_check CHECK (((unfinished_hours >= 1) AND (unfinished_hours <= 8760)))
);
CREATE TABLE public.skipped_events (
    id bigint NOT NULL,
    txn_id text NOT NULL,
    kind text NOT NULL,
    event_id text,
    room_id text,
    type text NOT NULL,
    sender text,
    reason text NOT NULL,
    skipped_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT skipped_events_kind_check CHECK ((kind = ANY (ARRAY['timeline'::text, 'ephemeral'::text])))
);
ALTER TABLE public.skipped_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.skipped_events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
CREATE TABLE public.topics (
    id text NOT NULL,
    name_de text NOT NULL,
    name_en text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT topics_id_check CHECK ((id ~ '^[a-z0-9-]{1,40}$'::text)),
    CONSTRAINT topics_name_de_check CHECK (((length(name_de) >= 1) AND (length(name_de) <= 100))),
    CONSTRAINT topics_name_en_check CHECK (((length(name_en) >= 1) AND (length(name_en) <= 100)))
);
CREATE TABLE public.used_challenges (
    id text NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT used_challenges_id_check CHECK ((id ~ '^[0-9a-f]{24}$'::text))
);
ALTER TABLE ONLY public.agencies
    ADD CONSTRAINT agencies_name_key UNIQUE (name);
ALTER TABLE ONLY public.agencies
    ADD CONSTRAINT agencies_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.agency_memberships
    ADD CONSTRAINT agency_memberships_pkey PRIMARY KEY (agency_id, counsellor_id);
ALTER TABLE ONLY public.agency_postcode_ranges
    ADD CONSTRAINT agency_postcode_ranges_pkey PRIMARY KEY (agency_id, first_postcode);
ALTER TABLE ONLY public.agency_topics
    ADD CONSTRAINT agency_topics_pkey PRIMARY KEY (agency_id, topic_id);
ALTER TABLE ONLY public.appservice_transactions
    ADD CONSTRAINT appservice_transactions_pkey PRIMARY KEY (txn_id);
ALTER TABLE ONLY public.assignments
    ADD CONSTRAINT assignments_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.audit_webhook_cursor
    ADD CONSTRAINT audit_webhook_cursor_pkey PRIMARY KEY (only_row);
ALTER TABLE ONLY public.connecta_migrations
    ADD CONSTRAINT connecta_migrations_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.control_commands
    ADD CONSTRAINT control_commands_event_id_key UNIQUE (event_id);
ALTER TABLE ONLY public.control_commands
    ADD CONSTRAINT control_commands_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.control_rooms
    ADD CONSTRAINT control_rooms_pkey PRIMARY KEY (counsellor_id);
ALTER TABLE ONLY public.control_rooms
    ADD CONSTRAINT control_rooms_room_id_key UNIQUE (room_id);
ALTER TABLE ONLY public.counsellor_account_creations
    ADD CONSTRAINT counsellor_account_creations_pkey PRIMARY KEY (user_id);
ALTER TABLE ONLY public.counsellors
    ADD CONSTRAINT counsellors_pkey PRIMARY KEY (user_id);
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_intake_id_key UNIQUE (intake_id);
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_notes_room_id_key UNIQUE (notes_room_id);
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_room_id_key UNIQUE (room_id);
ALTER TABLE ONLY public.enquiry_media
    ADD CONSTRAINT enquiry_media_pkey PRIMARY KEY (enquiry_id, media_id);
ALTER TABLE ONLY public.intakes
    ADD CONSTRAINT intakes_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.intakes
    ADD CONSTRAINT intakes_registration_token_key UNIQUE (registration_token);
ALTER TABLE ONLY public.matrix_steps
    ADD CONSTRAINT matrix_steps_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.purges
    ADD CONSTRAINT purges_pkey PRIMARY KEY (enquiry_id);
ALTER TABLE ONLY public.rate_limit_counters
    ADD CONSTRAINT rate_limit_counters_pkey PRIMARY KEY (bucket, window_start);
ALTER TABLE ONLY public.retention_policies
    ADD CONSTRAINT retention_policies_agency_id_key UNIQUE NULLS NOT DISTINCT (agency_id);
ALTER TABLE ONLY public.skipped_events
    ADD CONSTRAINT skipped_events_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.topics
    ADD CONSTRAINT topics_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.used_challenges
    ADD CONSTRAINT used_challenges_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX agencies_one_fallback ON public.agencies USING btree (is_fallback) WHERE is_fallback;
CREATE INDEX agency_memberships_counsellor ON public.agency_memberships USING btree (counsellor_id);
CREATE UNIQUE INDEX assignments_current ON public.assignments USING btree (enquiry_id) WHERE (ended_at IS NULL);
CREATE INDEX audit_log_at ON public.audit_log USING btree (at);
CREATE INDEX control_commands_answered ON public.control_commands USING btree (answered_at) WHERE (answered_at IS NOT NULL);
CREATE INDEX control_commands_pending ON public.control_commands USING btree (id) WHERE (answered_at IS NULL);
CREATE INDEX enquiries_counsellor ON public.enquiries USING btree (counsellor_id) WHERE (state = 'active'::text);
CREATE INDEX enquiries_queue ON public.enquiries USING btree (agency_id, waiting_since) WHERE (state = 'waiting'::text);
CREATE INDEX enquiries_seeker ON public.enquiries USING btree (seeker_id);
CREATE UNIQUE INDEX intakes_pseudonym ON public.intakes USING btree (pseudonym);
CREATE INDEX matrix_steps_pending ON public.matrix_steps USING btree (run_after, id) WHERE (done_at IS NULL);
CREATE INDEX skipped_events_skipped_at ON public.skipped_events USING btree (skipped_at);
CREATE INDEX used_challenges_expiry ON public.used_challenges USING btree (expires_at);
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON public.audit_log FOR EACH STATEMENT EXECUTE FUNCTION public.audit_log_append_only();
CREATE TRIGGER audit_log_no_update_or_delete BEFORE DELETE OR UPDATE ON public.audit_log FOR EACH ROW EXECUTE FUNCTION public.audit_log_append_only();
ALTER TABLE ONLY public.agency_memberships
    ADD CONSTRAINT agency_memberships_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.agency_memberships
    ADD CONSTRAINT agency_memberships_counsellor_id_fkey FOREIGN KEY (counsellor_id) REFERENCES public.counsellors(user_id) ON DELETE CASCADE;
ALTER TABLE ONLY public.agency_postcode_ranges
    ADD CONSTRAINT agency_postcode_ranges_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.agency_topics
    ADD CONSTRAINT agency_topics_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.agency_topics
    ADD CONSTRAINT agency_topics_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.topics(id) ON DELETE RESTRICT;
ALTER TABLE ONLY public.assignments
    ADD CONSTRAINT assignments_counsellor_id_fkey FOREIGN KEY (counsellor_id) REFERENCES public.counsellors(user_id);
ALTER TABLE ONLY public.assignments
    ADD CONSTRAINT assignments_enquiry_id_fkey FOREIGN KEY (enquiry_id) REFERENCES public.enquiries(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.control_commands
    ADD CONSTRAINT control_commands_counsellor_id_fkey FOREIGN KEY (counsellor_id) REFERENCES public.counsellors(user_id) ON DELETE CASCADE;
ALTER TABLE ONLY public.control_rooms
    ADD CONSTRAINT control_rooms_counsellor_id_fkey FOREIGN KEY (counsellor_id) REFERENCES public.counsellors(user_id) ON DELETE CASCADE;
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id);
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_counsellor_id_fkey FOREIGN KEY (counsellor_id) REFERENCES public.counsellors(user_id);
ALTER TABLE ONLY public.enquiries
    ADD CONSTRAINT enquiries_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.topics(id);
ALTER TABLE ONLY public.enquiry_media
    ADD CONSTRAINT enquiry_media_enquiry_id_fkey FOREIGN KEY (enquiry_id) REFERENCES public.enquiries(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.intakes
    ADD CONSTRAINT intakes_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id);
ALTER TABLE ONLY public.intakes
    ADD CONSTRAINT intakes_topic_id_fkey FOREIGN KEY (topic_id) REFERENCES public.topics(id);
ALTER TABLE ONLY public.matrix_steps
    ADD CONSTRAINT matrix_steps_enquiry_id_fkey FOREIGN KEY (enquiry_id) REFERENCES public.enquiries(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.purges
    ADD CONSTRAINT purges_enquiry_id_fkey FOREIGN KEY (enquiry_id) REFERENCES public.enquiries(id) ON DELETE CASCADE;
ALTER TABLE ONLY public.retention_policies
    ADD CONSTRAINT retention_policies_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;
