// Generated from the application service's routes by `npm run api:contract`
// (appservice/src/contract.ts). Do not edit: a test fails when this file and the routes differ.

/** The named schemas of the API. */
export interface Schemas {
  AdminAgency: {
    id: number;
    name: string;
    languages: ("de" | "en")[];
    is_fallback: boolean;
    topics: string[];
    postcode_ranges: {
      first: string;
      last: string;
    }[];
    /** Counsellors and team leads with a membership */
    counsellor_count: number;
    created_at: string;
  };
  AdminAgencyQueue: {
    agency_id: number;
    agency_name: string;
    /** Enquiries per state */
    counts: {
      created: number;
      waiting: number;
      active: number;
      closed: number;
      archived: number;
    };
    /** Wait of the oldest waiting enquiry */
    longest_wait_seconds: number | null;
    /** Average wait of the waiting enquiries */
    average_wait_seconds: number | null;
  };
  AdminCounsellor: {
    user_id: string;
    localpart: string;
    display_name: string;
    language: "de" | "en";
    absent: boolean;
    absence_message: string | null;
    /** The initial password has not been replaced yet */
    must_change_password: boolean;
    deactivated_at: string | null;
    created_at: string;
    memberships: {
      agency_id: number;
      agency_name: string;
      role: "counsellor" | "team_lead";
    }[];
    active_enquiries: number;
  };
  AdminQueueEnquiry: {
    id: number;
    agency_id: number;
    state: "created" | "waiting" | "active" | "closed" | "archived";
    topic_id: string;
    language: string;
    counsellor_id: string | null;
    created_at: string;
    waiting_since: string | null;
    /** For waiting enquiries: how long they have waited */
    waiting_seconds: number | null;
  };
  AdminTopic: {
    id: string;
    name_de: string;
    name_en: string;
    /** Agencies offering the topic */
    agency_count: number;
    created_at: string;
  };
  AgencyRetentionPolicy: {
    agency_id: number;
    /** Archived conversations are purged this many days after closing */
    archived_days: number;
    /** Unfinished intakes, and conversations in which the seeker never wrote, are purged after this many hours */
    unfinished_hours: number;
    /** Conversations without any event are purged, with their seeker, after this many days */
    inactive_days: number;
  };
  AuditEntry: {
    /** Position in the chain, 1, 2, 3, ... (a string: it may outgrow a JSON number) */
    id: string;
    /** When it was appended: ISO time with microseconds, UTC */
    at: string;
    /** A Matrix user id, operator, system, or anonymous (nobody authenticated) */
    actor: string;
    action: string;
    /** The id the action was about; never content */
    target: string | null;
    /** Only for refused credentials */
    client_address: string | null;
    class: "low" | "medium" | "high" | "critical";
    /** Occurrences the entry stands for (refusals are collapsed per minute) */
    count: number;
    /** SHA-256 over the previous entry's hash and this entry (hex) */
    hash: string;
  };
  AuditVerdict: {
    ok: boolean;
    /** Entries checked and found in order (before the problem, if any) */
    count: number;
    /** The newest entry: keep its id and hash to find entries cut off the end later */
    head: {
      id: string;
      hash: string;
    } | null;
    /** The first broken entry */
    problem: {
      id: string;
      kind: "changed" | "removed" | "moved";
      message: string;
    } | null;
  };
  CallAccess: {
    /** LiveKit's WebSocket URL */
    url: string;
    /** LiveKit access token */
    jwt: string;
  };
  Colleague: {
    user_id: string;
    display_name: string;
    /** The colleague's role in this agency */
    role: "counsellor" | "team_lead";
    absent: boolean;
  };
  CounsellorAbsence: {
    /** The counsellor is away; their seekers see the message */
    active: boolean;
    /** Shown to advice seekers while active; null when none is set */
    message: string | null;
  };
  CounsellorProfile: {
    user_id: string;
    role: "counsellor";
    display_name: string;
    /** Language of the counsellor's user interface and control room */
    language: "de" | "en";
    /** The initial password from the operator has not been replaced yet: the client asks for a new one */
    must_change_password: boolean;
    absence: Schemas["CounsellorAbsence"];
    agencies: {
      agency_id: number;
      name: string;
      /** The caller's role in this agency */
      role: "counsellor" | "team_lead";
    }[];
  };
  Erasure: {
    /** Conversations whose deletion was started now */
    enquiries: number;
  };
  Error: {
    /** Machine-readable error code */
    errcode: string;
    /** Explanation for a person */
    error: string;
    retry_after_ms?: number;
  };
  Intake: {
    intake_id: string;
    /** Single-use Synapse registration token (m.login.registration_token) */
    registration_token: string;
    /** Register at Synapse before this time */
    expires_at: string;
    /** The normalised pseudonym: the username to register */
    username: string;
  };
  IntakeChallenge: {
    /** Signed and opaque, 44 characters of base64url; hashed as received, and sent back as received */
    challenge_id: string;
    /** Leading zero bits SHA-256 of `${challenge_id}:${nonce}` must have */
    difficulty: number;
    expires_at: string;
    algorithm: "sha256-leading-zero-bits";
  };
  IntakeCompletion: {
    enquiry_id: number;
    room_id: string;
  };
  PersonalData: {
    user_id: string;
    exported_at: string;
    enquiries: {
      enquiry_id: number;
      room_id: string | null;
      state: string;
      topic: {
        id: string;
        name_de: string;
        name_en: string;
      };
      agency: string;
      language: string;
      age_group: string;
      created_at: string;
      waiting_since: string | null;
      closed_at: string | null;
      deletion_at: string;
    }[];
    /** The intakes of the pseudonym still kept */
    intakes: {
      pseudonym: string;
      postcode: string | null;
      language: string;
      age_group: string;
      created_at: string;
      completed_at: string | null;
    }[];
  };
  PublicTopic: {
    id: string;
    name_de: string;
    name_en: string;
  };
  RetentionPolicy: {
    /** Archived conversations are purged this many days after closing */
    archived_days: number;
    /** Unfinished intakes, and conversations in which the seeker never wrote, are purged after this many hours */
    unfinished_hours: number;
    /** Conversations without any event are purged, with their seeker, after this many days */
    inactive_days: number;
  };
  RetentionSweep: {
    /** False when another sweep was running; this one did nothing */
    ran: boolean;
    enquiries: {
      enquiry_id: number;
      room_id: string | null;
      seeker_id: string | null;
      reason: "archived" | "unfinished" | "inactive";
    }[];
    intakes: {
      intake_id: string;
      user_id: string;
    }[];
    /** Rows of short-lived tables deleted (rate-limit windows, used challenges) */
    expired_rows: number;
  };
  SeekerProfile: {
    user_id: string;
    role: "seeker";
  };
  TopicCoverage: {
    /** local: an agency offering the topic covers the postcode; general: the fallback agency would take the enquiry (no postcode given, or none covers it); none: no agency would take it */
    coverage: "local" | "general" | "none";
  };
}

/** Every operation, by method and path: its parameters, body and 200 answer. */
export interface Operations {
  /** The topics a seeker can choose for an intake (those at least one agency offers) */
  "GET /api/v1/topics": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: {
      topics: Schemas["PublicTopic"][];
    };
  };
  /** Whether an agency near the postcode, the fallback agency or nobody would take an enquiry on the topic */
  "GET /api/v1/topics/{topicId}/coverage": {
    params: {
      topicId: string;
    };
    query: {
      postcode?: string;
    };
    body: never;
    response: Schemas["TopicCoverage"];
  };
  /** A proof-of-work challenge for one intake */
  "GET /api/v1/intake/challenge": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: Schemas["IntakeChallenge"];
  };
  /** Checks an intake and answers with a single-use registration token for the pseudonym */
  "POST /api/v1/intake": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      challenge_id: string;
      nonce: string;
      /** 3 to 30 of a-z 0-9 . _ -; not like an e-mail address or phone number */
      pseudonym: string;
      topic: string;
      /** German postcode; absent when the seeker gives none */
      postcode?: string | null;
      age_group: "under_18" | "18_26" | "27_49" | "50_64" | "65_plus" | "unknown";
      language: "de" | "en";
    };
    response: Schemas["Intake"];
  };
  /** Opens the enquiry of the freshly registered seeker and answers with its room */
  "POST /api/v1/intake/{intakeId}/complete": {
    params: {
      intakeId: string;
    };
    query: Record<string, never>;
    body: never;
    response: Schemas["IntakeCompletion"];
  };
  /** Waiting enquiries of the caller's agencies, oldest first */
  "GET /api/v1/queue": {
    params: Record<string, never>;
    query: {
      limit?: number;
      agency_id?: number;
    };
    body: never;
    response: {
      enquiries: {
        enquiry_id: number;
        room_id: string;
        agency_id: number;
        agency_name: string;
        /** The seeker's pseudonym (Matrix localpart); null once their account is gone */
        pseudonym: string | null;
        topic: string;
        language: string;
        age_group: string;
        /** ISO 8601 */
        waiting_since: string;
        waiting_seconds: number;
      }[];
    };
  };
  /** The caller's enquiries: a seeker's own, or a counsellor's assigned ones */
  "GET /api/v1/enquiries": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: {
      enquiries: {
        enquiry_id: number;
        room_id: string | null;
        /** The case-notes room (private notes of the counsellors, end-to-end encrypted): only for the assigned counsellor, once the room exists; else null */
        notes_room_id: string | null;
        state: string;
        agency_id: number;
        agency_name: string;
        topic: string;
        language: string;
        age_group: string;
        /** The seeker's pseudonym (Matrix localpart); null once their account is gone */
        pseudonym: string | null;
        /** When the enquiry was made (ISO 8601) */
        created_at: string;
        counsellor_id: string | null;
        /** Set while the assigned counsellor is absent (PUT /api/v1/me/absence), else null */
        counsellor_absence: {
          /** The counsellor's absence notice; null when they left none */
          message: string | null;
        } | null;
        /** When the conversation will be deleted under its agency's retention periods, as things stand (later activity moves it; ISO 8601) */
        deletion_at: string;
        /** While closed: until when the seeker may reopen it (CONNECTA_REOPEN_WINDOW_DAYS; ISO 8601), else null */
        reopen_until: string | null;
        /** For how many days after a close the seeker may reopen (the same for all) */
        reopen_window_days: number;
      }[];
    };
  };
  /** Take a waiting enquiry; of many counsellors racing, exactly one wins */
  "POST /api/v1/enquiries/{enquiryId}/claim": {
    params: {
      enquiryId: number;
    };
    query: Record<string, never>;
    body: Record<string, never>;
    response: {
      enquiry_id: number;
      room_id: string | null;
      /** The case-notes room (private notes of the counsellors, end-to-end encrypted): only for the assigned counsellor, once the room exists; else null */
      notes_room_id: string | null;
      state: string;
      agency_id: number;
      agency_name: string;
      topic: string;
      language: string;
      age_group: string;
      /** The seeker's pseudonym (Matrix localpart); null once their account is gone */
      pseudonym: string | null;
      /** When the enquiry was made (ISO 8601) */
      created_at: string;
      counsellor_id: string | null;
      /** Set while the assigned counsellor is absent (PUT /api/v1/me/absence), else null */
      counsellor_absence: {
        /** The counsellor's absence notice; null when they left none */
        message: string | null;
      } | null;
      /** When the conversation will be deleted under its agency's retention periods, as things stand (later activity moves it; ISO 8601) */
      deletion_at: string;
      /** While closed: until when the seeker may reopen it (CONNECTA_REOPEN_WINDOW_DAYS; ISO 8601), else null */
      reopen_until: string | null;
      /** For how many days after a close the seeker may reopen (the same for all) */
      reopen_window_days: number;
    };
  };
  /** Hand an active enquiry to another counsellor of the agency (by the assigned counsellor or a team lead). The handing-over counsellor's client first invites the new counsellor and shares the room-key history (MSC4268); this call then makes the new counsellor responsible and removes the old one from the room. */
  "POST /api/v1/enquiries/{enquiryId}/handover": {
    params: {
      enquiryId: number;
    };
    query: Record<string, never>;
    body: {
      counsellor_id: string;
    };
    response: {
      enquiry_id: number;
      room_id: string | null;
      /** The case-notes room (private notes of the counsellors, end-to-end encrypted): only for the assigned counsellor, once the room exists; else null */
      notes_room_id: string | null;
      state: string;
      agency_id: number;
      agency_name: string;
      topic: string;
      language: string;
      age_group: string;
      /** The seeker's pseudonym (Matrix localpart); null once their account is gone */
      pseudonym: string | null;
      /** When the enquiry was made (ISO 8601) */
      created_at: string;
      counsellor_id: string | null;
      /** Set while the assigned counsellor is absent (PUT /api/v1/me/absence), else null */
      counsellor_absence: {
        /** The counsellor's absence notice; null when they left none */
        message: string | null;
      } | null;
      /** When the conversation will be deleted under its agency's retention periods, as things stand (later activity moves it; ISO 8601) */
      deletion_at: string;
      /** While closed: until when the seeker may reopen it (CONNECTA_REOPEN_WINDOW_DAYS; ISO 8601), else null */
      reopen_until: string | null;
      /** For how many days after a close the seeker may reopen (the same for all) */
      reopen_window_days: number;
    };
  };
  /** Close an active enquiry (assigned counsellor or team lead); the room becomes read-only */
  "POST /api/v1/enquiries/{enquiryId}/close": {
    params: {
      enquiryId: number;
    };
    query: Record<string, never>;
    body: Record<string, never>;
    response: {
      enquiry_id: number;
      room_id: string | null;
      /** The case-notes room (private notes of the counsellors, end-to-end encrypted): only for the assigned counsellor, once the room exists; else null */
      notes_room_id: string | null;
      state: string;
      agency_id: number;
      agency_name: string;
      topic: string;
      language: string;
      age_group: string;
      /** The seeker's pseudonym (Matrix localpart); null once their account is gone */
      pseudonym: string | null;
      /** When the enquiry was made (ISO 8601) */
      created_at: string;
      counsellor_id: string | null;
      /** Set while the assigned counsellor is absent (PUT /api/v1/me/absence), else null */
      counsellor_absence: {
        /** The counsellor's absence notice; null when they left none */
        message: string | null;
      } | null;
      /** When the conversation will be deleted under its agency's retention periods, as things stand (later activity moves it; ISO 8601) */
      deletion_at: string;
      /** While closed: until when the seeker may reopen it (CONNECTA_REOPEN_WINDOW_DAYS; ISO 8601), else null */
      reopen_until: string | null;
      /** For how many days after a close the seeker may reopen (the same for all) */
      reopen_window_days: number;
    };
  };
  /** The seeker reopens their closed enquiry within the reopening window */
  "POST /api/v1/enquiries/{enquiryId}/reopen": {
    params: {
      enquiryId: number;
    };
    query: Record<string, never>;
    body: Record<string, never>;
    response: {
      enquiry_id: number;
      room_id: string | null;
      /** The case-notes room (private notes of the counsellors, end-to-end encrypted): only for the assigned counsellor, once the room exists; else null */
      notes_room_id: string | null;
      state: string;
      agency_id: number;
      agency_name: string;
      topic: string;
      language: string;
      age_group: string;
      /** The seeker's pseudonym (Matrix localpart); null once their account is gone */
      pseudonym: string | null;
      /** When the enquiry was made (ISO 8601) */
      created_at: string;
      counsellor_id: string | null;
      /** Set while the assigned counsellor is absent (PUT /api/v1/me/absence), else null */
      counsellor_absence: {
        /** The counsellor's absence notice; null when they left none */
        message: string | null;
      } | null;
      /** When the conversation will be deleted under its agency's retention periods, as things stand (later activity moves it; ISO 8601) */
      deletion_at: string;
      /** While closed: until when the seeker may reopen it (CONNECTA_REOPEN_WINDOW_DAYS; ISO 8601), else null */
      reopen_until: string | null;
      /** For how many days after a close the seeker may reopen (the same for all) */
      reopen_window_days: number;
    };
  };
  /** Report a file sent in the enquiry's room (its mxc URI), so that it is deleted with the conversation. Seeker and assigned counsellor only. */
  "POST /api/v1/enquiries/{enquiryId}/media": {
    params: {
      enquiryId: number;
    };
    query: Record<string, never>;
    body: {
      media_id: string;
    };
    response: Record<string, never>;
  };
  /** What the server keeps about the calling seeker (the conversation itself comes from their own client) */
  "GET /api/v1/me/export": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: Schemas["PersonalData"];
  };
  /** The calling seeker deletes their account: every conversation of theirs is deleted like an expired one (its counsellor is told, without content), then the account. Cannot be undone. */
  "POST /api/v1/me/erasure": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: Record<string, never>;
    response: Schemas["Erasure"];
  };
  /** What our database keeps about a seeker, for a request under Art. 15 GDPR */
  "GET /api/v1/admin/users/{userId}/export": {
    params: {
      userId: string;
    };
    query: Record<string, never>;
    body: never;
    response: Schemas["PersonalData"];
  };
  /** Erase a seeker and their conversations, for a request under Art. 17 GDPR */
  "POST /api/v1/admin/users/{userId}/erasure": {
    params: {
      userId: string;
    };
    query: Record<string, never>;
    body: Record<string, never>;
    response: Schemas["Erasure"];
  };
  /** Whether this server has calls, and whether seekers may start one or only join their counsellor's */
  "GET /api/v1/rtc/settings": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: {
      /** Whether calls are set up */
      calls: boolean;
      /** Whether seekers may start a call (CONNECTA_CALLS_SEEKERS_START) */
      seekers_start: boolean;
    };
  };
  /** A LiveKit token for the caller's MatrixRTC membership in an enquiry's call (MSC4195) */
  "POST /api/v1/rtc/get_token": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      room_id: string;
      slot_id: "m.call#ROOM";
      openid_token: {
        access_token: string;
        token_type?: string;
        matrix_server_name: string;
        expires_in?: number;
      };
      member: {
        id: string;
        claimed_user_id: string;
        claimed_device_id: string;
      };
    };
    response: Schemas["CallAccess"];
  };
  /** A LiveKit token for the caller's device in an enquiry's call (the older request of Element Call) */
  "POST /api/v1/rtc/sfu/get": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      room: string;
      openid_token: {
        access_token: string;
        token_type?: string;
        matrix_server_name: string;
        expires_in?: number;
      };
      device_id: string;
    };
    response: Schemas["CallAccess"];
  };
  /** The homeserver's LiveKit token endpoint (MSC4195), forwarded to us by Synapse (MSC4512) */
  "POST /_matrix/client/unstable/io.element.msc4195/rtc/livekit/get_token": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      url: string;
      room_id: string;
      slot_id: "m.call#ROOM";
      member: {
        id: string;
        claimed_device_id: string;
      };
    };
    response: {
      jwt: string;
    };
  };
  /** The homeserver's LiveKit token endpoint (MSC4195), forwarded to us by Synapse (MSC4512) */
  "POST /_matrix/client/v1/rtc/livekit/get_token": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      url: string;
      room_id: string;
      slot_id: "m.call#ROOM";
      member: {
        id: string;
        claimed_device_id: string;
      };
    };
    response: {
      jwt: string;
    };
  };
  /** Who the caller is: a counsellor's profile (agencies, roles, absence, whether the initial password must still be replaced), or for anyone else just `role: seeker`. A deactivated counsellor is refused. */
  "GET /api/v1/me": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: Schemas["CounsellorProfile"] | Schemas["SeekerProfile"];
  };
  /** The counsellor has replaced the operator's initial password: the client calls this right after Synapse accepted POST /_matrix/client/v3/account/password, and it clears `must_change_password`. The server cannot verify the change (the password goes to Synapse only), and need not: the flag only makes the client ask for a new password; the security boundary is the password itself, which the counsellor had to know to get the OpenID token. Counsellors only; answers the profile. */
  "POST /api/v1/me/password-changed": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: Record<string, never>;
    response: Schemas["CounsellorProfile"];
  };
  /** Set or end the caller's absence (counsellors only). The whole absence is replaced: a message left out is removed. While active, the message is shown to the advice seekers of the counsellor's enquiries (`counsellor_absence` in GET /api/v1/enquiries). */
  "PUT /api/v1/me/absence": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      active: boolean;
      /** Shown to the counsellor's advice seekers while absent; 1 to 1000 characters after trimming, required when `active` is true. Left out or null stores no message. */
      message?: string | null;
    };
    response: Schemas["CounsellorAbsence"];
  };
  /** The caller's colleagues in an agency, to hand an enquiry over to: its active counsellors except the caller, by display name. Only for members of the agency; any other agency answers M_NOT_FOUND. */
  "GET /api/v1/agencies/{agencyId}/counsellors": {
    params: {
      agencyId: string;
    };
    query: Record<string, never>;
    body: never;
    response: {
      counsellors: Schemas["Colleague"][];
    };
  };
  /** The caller's control room (counsellors only): an unencrypted room with Connecta for the commands queue, take, handover, close and help. Created and the caller invited on the first call; later calls return it (and invite the caller again if they left it). */
  "POST /api/v1/control-room": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: Record<string, never>;
    response: {
      room_id: string;
    };
  };
  /** Create a topic */
  "POST /api/v1/admin/topics": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      /** Slug, 1 to 40 characters a-z, 0-9 or - */
      id: string;
      name_de: string;
      name_en: string;
    };
    response: Schemas["AdminTopic"];
  };
  /** List the topics */
  "GET /api/v1/admin/topics": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: {
      topics: Schemas["AdminTopic"][];
    };
  };
  /** Rename a topic */
  "PATCH /api/v1/admin/topics/{topicId}": {
    params: {
      /** Slug, 1 to 40 characters a-z, 0-9 or - */
      topicId: string;
    };
    query: Record<string, never>;
    body: {
      name_de?: string;
      name_en?: string;
    };
    response: Schemas["AdminTopic"];
  };
  /** Create an agency */
  "POST /api/v1/admin/agencies": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      name: string;
      /** Languages counselling is offered in */
      languages?: ("de" | "en")[];
      /** The agency for postcodes no other agency covers (at most one) */
      is_fallback?: boolean;
      /** Ids of the topics the agency offers */
      topics?: string[];
      /** Postcodes the agency covers (inclusive ranges) */
      postcode_ranges?: {
        /** Five-digit German postcode */
        first: string;
        /** Five-digit German postcode */
        last: string;
      }[];
    };
    response: Schemas["AdminAgency"];
  };
  /** List the agencies with topics, postcode ranges and counsellor counts */
  "GET /api/v1/admin/agencies": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: {
      agencies: Schemas["AdminAgency"][];
    };
  };
  /** Show one agency */
  "GET /api/v1/admin/agencies/{agencyId}": {
    params: {
      agencyId: string;
    };
    query: Record<string, never>;
    body: never;
    response: Schemas["AdminAgency"];
  };
  /** Change an agency; topics and postcode ranges given replace the old ones */
  "PATCH /api/v1/admin/agencies/{agencyId}": {
    params: {
      agencyId: string;
    };
    query: Record<string, never>;
    body: {
      name?: string;
      /** Languages counselling is offered in */
      languages?: ("de" | "en")[];
      /** The agency for postcodes no other agency covers (at most one) */
      is_fallback?: boolean;
      /** Ids of the topics the agency offers */
      topics?: string[];
      /** Postcodes the agency covers (inclusive ranges) */
      postcode_ranges?: {
        /** Five-digit German postcode */
        first: string;
        /** Five-digit German postcode */
        last: string;
      }[];
    };
    response: Schemas["AdminAgency"];
  };
  /** Delete an agency that never had an enquiry (its memberships go with it) */
  "DELETE /api/v1/admin/agencies/{agencyId}": {
    params: {
      agencyId: string;
    };
    query: Record<string, never>;
    body: never;
    response: {
      /** Id of the deleted agency */
      deleted: number;
    };
  };
  /** Create a counsellor: Matrix account, initial password (answered once) and memberships */
  "POST /api/v1/admin/counsellors": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      /** Matrix localpart, 2 to 40 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit; not starting with connecta- */
      localpart: string;
      display_name: string;
      language?: "de" | "en";
      /** Agencies the counsellor works for, with the role in each */
      memberships?: {
        agency_id: number;
        role?: "counsellor" | "team_lead";
      }[];
    };
    response: {
      /** False when the counsellor existed already with the same details (a retry) */
      created: boolean;
      counsellor: Schemas["AdminCounsellor"];
      /** Only when created: hand it to the counsellor; it is not stored and never shown again */
      initial_password?: string;
    };
  };
  /** List the counsellors (also deactivated ones), optionally of one agency */
  "GET /api/v1/admin/counsellors": {
    params: Record<string, never>;
    query: {
      /** Only members of this agency */
      agency?: string;
    };
    body: never;
    response: {
      counsellors: Schemas["AdminCounsellor"][];
    };
  };
  /** Show one counsellor */
  "GET /api/v1/admin/counsellors/{localpart}": {
    params: {
      localpart: string;
    };
    query: Record<string, never>;
    body: never;
    response: Schemas["AdminCounsellor"];
  };
  /** Change a counsellor; memberships given replace the old ones */
  "PATCH /api/v1/admin/counsellors/{localpart}": {
    params: {
      localpart: string;
    };
    query: Record<string, never>;
    body: {
      display_name?: string;
      language?: "de" | "en";
      /** Agencies the counsellor works for, with the role in each */
      memberships?: {
        agency_id: number;
        role?: "counsellor" | "team_lead";
      }[];
      absent?: boolean;
      /** Shown to advice seekers while the counsellor is absent; null removes it */
      absence_message?: string | null;
    };
    response: Schemas["AdminCounsellor"];
  };
  /** Give a counsellor a new initial password (answered once); logs out all their devices */
  "POST /api/v1/admin/counsellors/{localpart}/password": {
    params: {
      localpart: string;
    };
    query: Record<string, never>;
    body: never;
    response: {
      counsellor: Schemas["AdminCounsellor"];
      initial_password: string;
    };
  };
  /** Deactivate a counsellor: memberships removed, Matrix account deactivated (repeatable) */
  "POST /api/v1/admin/counsellors/{localpart}/deactivate": {
    params: {
      localpart: string;
    };
    query: Record<string, never>;
    body: never;
    response: Schemas["AdminCounsellor"];
  };
  /** Enquiry counts and waiting times per agency, and the enquiries in one state (oldest first) */
  "GET /api/v1/admin/queue": {
    params: Record<string, never>;
    query: {
      /** Only this agency */
      agency?: string;
      /** State of the enquiries listed */
      state?: "created" | "waiting" | "active" | "closed" | "archived";
      /** Most enquiries listed (1 to 1000, default 100) */
      limit?: string;
    };
    body: never;
    response: {
      agencies: Schemas["AdminAgencyQueue"][];
      enquiries: Schemas["AdminQueueEnquiry"][];
    };
  };
  /** The retention periods: the defaults and those of agencies with their own */
  "GET /api/v1/admin/retention": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: {
      defaults: Schemas["RetentionPolicy"];
      /** Agencies with periods of their own */
      agencies: Schemas["AgencyRetentionPolicy"][];
    };
  };
  /** Set the retention periods of every agency without its own */
  "PUT /api/v1/admin/retention/defaults": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: Schemas["RetentionPolicy"];
    response: {
      defaults: Schemas["RetentionPolicy"];
      /** Agencies with periods of their own */
      agencies: Schemas["AgencyRetentionPolicy"][];
    };
  };
  /** Set an agency's own retention periods */
  "PUT /api/v1/admin/retention/agencies/{agencyId}": {
    params: {
      agencyId: string;
    };
    query: Record<string, never>;
    body: Schemas["RetentionPolicy"];
    response: {
      defaults: Schemas["RetentionPolicy"];
      /** Agencies with periods of their own */
      agencies: Schemas["AgencyRetentionPolicy"][];
    };
  };
  /** Remove an agency's own retention periods: the defaults apply again */
  "DELETE /api/v1/admin/retention/agencies/{agencyId}": {
    params: {
      agencyId: string;
    };
    query: Record<string, never>;
    body: never;
    response: {
      defaults: Schemas["RetentionPolicy"];
      /** Agencies with periods of their own */
      agencies: Schemas["AgencyRetentionPolicy"][];
    };
  };
  /** Sweep now: schedule the purge of everything past its period (the purges then run in the background). With dry_run, only list what would be purged. */
  "POST /api/v1/admin/retention/sweep": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      dry_run?: boolean;
    };
    response: Schemas["RetentionSweep"];
  };
  /** List security events, newest first */
  "GET /api/v1/admin/audit": {
    params: Record<string, never>;
    query: {
      /** Only entries appended at or after this time */
      since?: string;
      /** Only entries of this class or a more serious one */
      class?: "low" | "medium" | "high" | "critical";
      /** At most this many entries, newest first (default 100, at most 1000) */
      limit?: string;
    };
    body: never;
    response: {
      entries: Schemas["AuditEntry"][];
    };
  };
  /** Check the security event log's hash chain; names the first changed, removed or moved entry */
  "GET /api/v1/admin/audit/verify": {
    params: Record<string, never>;
    query: Record<string, never>;
    body: never;
    response: Schemas["AuditVerdict"];
  };
}
