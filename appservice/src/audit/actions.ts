/**
 * The closed set of security events and the class of each (docs/runbooks/incident.md says who is
 * told about which class, and how fast). A new kind of event is a new line here; the class
 * belongs to the action, so no caller can file a password reset as `low`.
 */

/** How serious an event is; `high` and `critical` also go to the operator's webhook. */
export const CLASSES = ["low", "medium", "high", "critical"] as const;

/** One of {@link CLASSES}. */
export type AuditClass = (typeof CLASSES)[number];

/** Every action we record, with its class. */
export const ACTIONS = {
  /** An OpenID token (or a malformed Authorization header) was refused. Collapsed per address and minute. */
  "auth.token_refused": "low",
  /** A wrong operator token was presented to the admin API. Collapsed per address and minute. */
  "auth.operator_token_refused": "high",
  /** A wrong homeserver token was presented on the transaction endpoint. Collapsed per address and minute. */
  "auth.hs_token_refused": "high",
  /** An authenticated caller was refused (M_FORBIDDEN), e.g. a deactivated counsellor. Collapsed. */
  "auth.forbidden": "medium",
  /** A request was refused by a flood brake (429: intake, token checks, enquiry actions). Collapsed per caller, address and minute. */
  "auth.rate_limited": "medium",
  /** A topic was created (target: topic id). */
  "admin.topic_created": "low",
  /** A topic was renamed (target: topic id). */
  "admin.topic_changed": "low",
  /** An agency was created (target: agency id). */
  "admin.agency_created": "medium",
  /** An agency's topics, languages, postcodes, name or fallback flag changed (target: agency id). */
  "admin.agency_changed": "medium",
  /** An agency was deleted (target: agency id). */
  "admin.agency_deleted": "medium",
  /** A counsellor account was created (target: user id). */
  "admin.counsellor_created": "medium",
  /** A counsellor's name, language, absence or agencies changed (target: user id). */
  "admin.counsellor_changed": "low",
  /** A counsellor's roles changed: team lead somewhere, or no longer (target: user id). */
  "admin.role_changed": "high",
  /** A counsellor got a new initial password and was logged out everywhere (target: user id). */
  "admin.password_reset": "high",
  /** A counsellor was deactivated (target: user id). */
  "admin.counsellor_deactivated": "medium",
  /** Data past its retention period was purged (target: what, e.g. `enquiries`; count: how many). */
  "retention.purged": "low",
  /** Personal data was exported for a data subject (Art. 15/20 GDPR; target: user id). */
  "privacy.export": "high",
  /** A data subject asked for erasure (Art. 17 GDPR; target: user id). */
  "privacy.erasure_requested": "medium",
  /** `audit verify` found the chain broken: entries were changed, removed or moved. */
  "audit.chain_broken": "critical",
} as const satisfies Record<string, AuditClass>;

/** The name of a security event. */
export type AuditAction = keyof typeof ACTIONS;

/** Who acted: a Matrix user id, the operator, the service itself, or an unauthenticated caller. */
export type AuditActor = "operator" | "system" | "anonymous" | `@${string}`;
