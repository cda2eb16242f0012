/**
 * HTTP routes a counsellor's client needs about the counsellor and their colleagues: who am I,
 * "I have replaced my initial password", my absence notice, and whom I can hand over to.
 *
 * Every route takes the caller's Matrix OpenID token. Synapse keeps OpenID tokens valid for an
 * hour even after an account is deactivated, so every route checks `deactivated_at` itself: a
 * deactivated counsellor is refused (M_FORBIDDEN), never mistaken for an advice seeker.
 */
import { z } from "zod";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import {
  agencyStanding,
  findCounsellor,
  listColleagues,
  markPasswordChanged,
  setAbsence,
  type CounsellorProfileJson,
} from "./counsellors.ts";
import { Absence, AbsenceBody, AgencyParams, Colleague, CounsellorProfile, Me } from "./schemas.ts";

const TAG = "counsellors";

const deactivated = () => new MatrixError("M_FORBIDDEN", "This counsellor account is deactivated");
const notACounsellor = () => new MatrixError("M_FORBIDDEN", "Only counsellors may do this");

/** Adds the counsellor self routes. */
export function counsellorSelfRoutes(api: Api, deps: FeatureDeps): void {
  const { pool } = deps;

  /** The caller's profile; M_FORBIDDEN for anyone who is not an active counsellor. */
  async function ownProfile(userId: string): Promise<CounsellorProfileJson> {
    const own = await findCounsellor(pool, userId);
    if (!own) throw notACounsellor();
    if (own.deactivated) throw deactivated();
    return own.profile;
  }

  /** Why an update that found no active counsellor `userId` is refused. */
  async function refusal(userId: string): Promise<MatrixError> {
    return (await findCounsellor(pool, userId)) ? deactivated() : notACounsellor();
  }

  api.add({
    method: "get",
    path: "/api/v1/me",
    summary:
      "Who the caller is: a counsellor's profile (agencies, roles, absence, whether the initial password " +
      "must still be replaced), or for anyone else just `role: seeker`. A deactivated counsellor is refused.",
    tag: TAG,
    auth: "user",
    response: Me,
    errors: ["M_FORBIDDEN"],
    handler: async ({ userId }) => {
      const caller = String(userId);
      const own = await findCounsellor(pool, caller);
      if (!own) return { user_id: caller, role: "seeker" as const };
      if (own.deactivated) throw deactivated();
      return own.profile;
    },
  });

  api.add({
    method: "post",
    path: "/api/v1/me/password-changed",
    summary:
      "The counsellor has replaced the operator's initial password: the client calls this right after " +
      "Synapse accepted POST /_matrix/client/v3/account/password, and it clears `must_change_password`. " +
      "The server cannot verify the change (the password goes to Synapse only), and need not: the flag " +
      "only makes the client ask for a new password; the security boundary is the password itself, which " +
      "the counsellor had to know to get the OpenID token. Counsellors only; answers the profile.",
    tag: TAG,
    auth: "user",
    body: z.strictObject({}),
    response: CounsellorProfile,
    errors: ["M_FORBIDDEN"],
    handler: async ({ userId }) => {
      const caller = String(userId);
      if (!(await markPasswordChanged(pool, caller))) throw await refusal(caller);
      return ownProfile(caller);
    },
  });

  api.add({
    method: "put",
    path: "/api/v1/me/absence",
    summary:
      "Set or end the caller's absence (counsellors only). The whole absence is replaced: a message left " +
      "out is removed. While active, the message is shown to the advice seekers of the counsellor's " +
      "enquiries (`counsellor_absence` in GET /api/v1/enquiries).",
    tag: TAG,
    auth: "user",
    body: AbsenceBody,
    response: Absence,
    errors: ["M_FORBIDDEN"],
    handler: async ({ userId, body }) => {
      const caller = String(userId);
      const stored = await setAbsence(pool, caller, { active: body.active, message: body.message ?? null });
      if (!stored) throw await refusal(caller);
      return stored;
    },
  });

  api.add({
    method: "get",
    path: "/api/v1/agencies/{agencyId}/counsellors",
    summary:
      "The caller's colleagues in an agency, to hand an enquiry over to: its active counsellors except the " +
      "caller, by display name. Only for members of the agency; any other agency answers M_NOT_FOUND.",
    tag: TAG,
    auth: "user",
    params: AgencyParams,
    response: z.object({ counsellors: z.array(Colleague) }),
    errors: ["M_FORBIDDEN", "M_NOT_FOUND"],
    handler: async ({ userId, params }) => {
      const caller = String(userId);
      const standing = await agencyStanding(pool, caller, params.agencyId);
      if (standing === "not_a_counsellor") throw notACounsellor();
      if (standing === "deactivated") throw deactivated();
      // Another agency (or one that does not exist) is not there for this caller.
      if (standing === "outsider") throw new MatrixError("M_NOT_FOUND", "No such agency");
      return { counsellors: await listColleagues(pool, params.agencyId, caller) };
    },
  });
}
