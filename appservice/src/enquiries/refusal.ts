/**
 * Why the counselling workflow says no. The workflow throws a {@link WorkflowRefusal} naming one
 * reason and knows nothing of HTTP; what a caller sees of it is decided in two places only: here
 * for the HTTP API ({@link refusalError}, applied by the one error middleware) and in
 * control/answer.ts and control/texts.ts for the control room.
 */
import { MatrixError, type ErrCode } from "../http/errors.ts";

/** A reason to refuse, with what its texts need. */
export type Refusal =
  /** The caller counsels for no agency. */
  | { reason: "not_a_counsellor" }
  /** The caller's counsellor account is deactivated (their OpenID token outlives it). */
  | { reason: "deactivated" }
  /** No such enquiry, or not the caller's to see (another agency's, another seeker's). */
  | { reason: "no_such_enquiry" }
  /** A colleague claimed the enquiry first. */
  | { reason: "already_taken" }
  /** The enquiry is not in a state that allows the action (`wanted`). */
  | { reason: "wrong_state"; state: string; wanted: "waiting" | "active" | "reopenable" }
  /** Only the assigned counsellor or a team lead may do this. */
  | { reason: "not_assigned"; action: "handover" | "close" }
  /** The counsellor to hand over to does not counsel for the enquiry's agency. */
  | { reason: "not_a_colleague"; userId: string }
  /** The counsellor still holds active enquiries of an agency they are to leave. */
  | { reason: "still_assigned"; userId: string; count: number }
  /**
   * Not a refusal of the change, which is saved: its rooms are not done yet (the homeserver is
   * slow), so the answer would not be true yet. A repeated request answers once they are.
   */
  | { reason: "rooms_pending" };

/** Thrown by the workflow when it refuses. */
export class WorkflowRefusal extends Error {
  readonly refusal: Refusal;
  constructor(refusal: Refusal) {
    super(refusal.reason);
    this.name = "WorkflowRefusal";
    this.refusal = refusal;
  }
}

/** Shorthand: `throw refuse({ reason: "already_taken" })`. */
export function refuse(refusal: Refusal): WorkflowRefusal {
  return new WorkflowRefusal(refusal);
}

/** The Matrix error code of each reason. */
const ERRCODE: Record<Refusal["reason"], ErrCode> = {
  not_a_counsellor: "M_FORBIDDEN",
  deactivated: "M_FORBIDDEN",
  no_such_enquiry: "M_NOT_FOUND",
  already_taken: "CONNECTA_ALREADY_TAKEN",
  wrong_state: "CONNECTA_WRONG_STATE",
  not_assigned: "M_FORBIDDEN",
  not_a_colleague: "M_INVALID_PARAM",
  still_assigned: "CONNECTA_IN_USE",
  rooms_pending: "M_UNAVAILABLE",
};

/** The `error` of the HTTP API's answer, for the programs and people calling it. */
function message(r: Refusal): string {
  switch (r.reason) {
    case "not_a_counsellor":
      return "Only counsellors may do this";
    case "deactivated":
      return "This counsellor account is deactivated";
    case "no_such_enquiry":
      return "No such enquiry";
    case "already_taken":
      return "Another counsellor has already taken this enquiry";
    case "wrong_state":
      return r.wanted === "reopenable"
        ? "This enquiry can no longer be reopened"
        : `The enquiry is ${r.state}, not ${r.wanted}`;
    case "not_assigned":
      return `Only the assigned counsellor or a team lead can ${r.action === "handover" ? "hand over" : "close"}`;
    case "not_a_colleague":
      return "The new counsellor is not a counsellor of this agency";
    case "still_assigned":
      return `${r.userId} still has ${r.count} active enquiries in this agency; hand them over first`;
    case "rooms_pending":
      return "The change is saved, but the conversation rooms are still being updated; please repeat the request";
  }
}

/** The HTTP API's answer to a refusal (null for any other error). */
export function refusalError(err: unknown): MatrixError | null {
  if (!(err instanceof WorkflowRefusal)) return null;
  return new MatrixError(ERRCODE[err.refusal.reason], message(err.refusal));
}
