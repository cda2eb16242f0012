/**
 * The counselling domain's words, used the same way in the API, the tables and the UI.
 *
 * Glossary
 * - **advice seeker** (Ratsuchende:r, `seeker`): a person asking for help, known only by a
 *   pseudonym (their Matrix localpart). No e-mail, no real name.
 * - **counsellor** (Berater:in, `counsellor`): a professional of one or more agencies; a Matrix
 *   user created by an operator. Role `counsellor` or `team_lead`.
 * - **agency** (Beratungsstelle, `agency`): an organisation's counselling service with topics,
 *   languages and postcode ranges; one agency is the fallback for postcodes nobody covers.
 * - **topic** (Thema, `topic`): what an enquiry is about; chosen by the seeker.
 * - **intake** (Anmeldung, `intake`): the anonymous steps from the start page to a registered
 *   seeker with an enquiry room: challenge, checks, registration token, registration.
 * - **enquiry** (Anfrage, `enquiry`): a seeker's request and the counselling session it becomes;
 *   one Matrix room. States: {@link EnquiryState}.
 * - **queue** (Warteschlange): the waiting enquiries of an agency, oldest first.
 * - **claim** (Übernahme, `claim`): a counsellor takes a waiting enquiry; exactly one wins.
 * - **assignment** (Zuweisung): a counsellor's responsibility for an enquiry, from a claim or a
 *   handover until the next handover or the end.
 * - **handover** (Übergabe, `handover`): the assigned counsellor (or a team lead) passes an
 *   active enquiry to another counsellor of the agency, with its history.
 * - **close** (Abschluss): the counsellor ends a session; the seeker may **reopen** it within the
 *   reopening window, after which it is **archived**.
 * - **step** (`matrix_steps`): one Matrix action (create room, invite, kick, power levels) that a
 *   workflow action needs; recorded with the state change and done until done.
 * - **retention** (Aufbewahrung): how long closed enquiries are kept before deletion.
 */

/** Lifecycle of an enquiry. */
export const ENQUIRY_STATES = ["created", "waiting", "active", "closed", "archived"] as const;
/** One state of {@link ENQUIRY_STATES}: created (room ready) → waiting (first message, in the queue) → active (claimed) → closed → archived. */
export type EnquiryState = (typeof ENQUIRY_STATES)[number];

/** Age groups a seeker may give (optional: `unknown`). */
export const AGE_GROUPS = ["under_18", "18_26", "27_49", "50_64", "65_plus", "unknown"] as const;
/** One of {@link AGE_GROUPS}. */
export type AgeGroup = (typeof AGE_GROUPS)[number];

/** Languages of counselling and of the UI. */
export const LANGUAGES = ["de", "en"] as const;
/** One of {@link LANGUAGES}. */
export type Language = (typeof LANGUAGES)[number];

/** A counsellor's role in an agency. */
export type CounsellorRole = "counsellor" | "team_lead";

/**
 * Custom state event in every enquiry room naming its enquiry (lets the reconciler find rooms):
 * `{ enquiry_id, agency_id }` at creation; each change of the enquiry adds `state`, `change`
 * ({@link EnquiryChange}) and `at`, which the clients show as markers in the conversation. The
 * case-notes room carries it as `{ notes_of, agency_id }` (an enquiry room for Synapse's rules,
 * homeserver-config/connecta_rules.py, but never taken for the conversation's room).
 */
export const ENQUIRY_STATE_EVENT = "de.connecta.enquiry";

/** The changes of an enquiry its room shows as markers in the conversation. */
export const ENQUIRY_CHANGES = ["claimed", "handed_over", "closed", "reopened"] as const;
/** One of {@link ENQUIRY_CHANGES}. */
export type EnquiryChange = (typeof ENQUIRY_CHANGES)[number];
