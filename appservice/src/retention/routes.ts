/**
 * Operator routes for retention (docs/privacy.md): the periods, for all agencies and per agency,
 * and a sweep on demand, also as a dry run that lists what it would purge. The sweep also runs
 * on its own (main.ts, CONNECTA_RETENTION_SWEEP_MINUTES).
 */
import { z } from "zod";
import { PREFIX, TAG, idString } from "../admin/common.ts";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { agencyPolicies, defaultPolicy, removeAgencyPolicy, setAgencyPolicy, setDefaultPolicy } from "./policies.ts";
import { countSweep, sweep } from "./sweeper.ts";

const whole = (min: number, max: number) =>
  z.number().int("must be a whole number").min(min, `must be ${min}..${max}`).max(max, `must be ${min}..${max}`);

const Policy = z
  .strictObject({
    archived_days: whole(0, 3650).describe("Archived conversations are purged this many days after closing"),
    unfinished_hours: whole(1, 8760).describe(
      "Unfinished intakes, and conversations in which the seeker never wrote, are purged after this many hours",
    ),
    inactive_days: whole(1, 3650).describe(
      "Conversations without any event are purged, with their seeker, after this many days",
    ),
  })
  .meta({ id: "RetentionPolicy" });

const AgencyPolicy = z.object({ agency_id: z.int(), ...Policy.shape }).meta({ id: "AgencyRetentionPolicy" });

const Policies = z.object({
  defaults: Policy,
  agencies: z.array(AgencyPolicy).describe("Agencies with periods of their own"),
});

const SweepResult = z
  .object({
    ran: z.boolean().describe("False when another sweep was running; this one did nothing"),
    enquiries: z.array(
      z.object({
        enquiry_id: z.int(),
        room_id: z.string().nullable(),
        seeker_id: z.string().nullable(),
        reason: z.enum(["archived", "unfinished", "inactive"]),
      }),
    ),
    intakes: z.array(z.object({ intake_id: z.string(), user_id: z.string() })),
    expired_rows: z.int().describe("Rows of short-lived tables deleted (rate-limit windows, used challenges)"),
  })
  .meta({ id: "RetentionSweep" });

const AgencyParams = z.strictObject({ agencyId: idString });

/** Adds the retention routes. */
export function retentionRoutes(api: Api, deps: FeatureDeps): void {
  const policies = async () => ({
    defaults: await defaultPolicy(deps.pool),
    agencies: await agencyPolicies(deps.pool),
  });

  api.add({
    method: "get",
    path: `${PREFIX}/retention`,
    summary: "The retention periods: the defaults and those of agencies with their own",
    tag: TAG,
    auth: "operator",
    response: Policies,
    errors: [],
    handler: policies,
  });

  api.add({
    method: "put",
    path: `${PREFIX}/retention/defaults`,
    summary: "Set the retention periods of every agency without its own",
    tag: TAG,
    auth: "operator",
    body: Policy,
    response: Policies,
    errors: [],
    handler: async ({ body }) => {
      await setDefaultPolicy(deps.pool, body);
      return policies();
    },
  });

  api.add({
    method: "put",
    path: `${PREFIX}/retention/agencies/{agencyId}`,
    summary: "Set an agency's own retention periods",
    tag: TAG,
    auth: "operator",
    params: AgencyParams,
    body: Policy,
    response: Policies,
    errors: ["M_NOT_FOUND"],
    handler: async ({ params, body }) => {
      if (!(await setAgencyPolicy(deps.pool, params.agencyId, body))) {
        throw new MatrixError("M_NOT_FOUND", `No agency with id ${params.agencyId}`);
      }
      return policies();
    },
  });

  api.add({
    method: "delete",
    path: `${PREFIX}/retention/agencies/{agencyId}`,
    summary: "Remove an agency's own retention periods: the defaults apply again",
    tag: TAG,
    auth: "operator",
    params: AgencyParams,
    response: Policies,
    errors: ["M_NOT_FOUND"],
    handler: async ({ params }) => {
      if (!(await removeAgencyPolicy(deps.pool, params.agencyId))) {
        throw new MatrixError("M_NOT_FOUND", `Agency ${params.agencyId} has no retention periods of its own`);
      }
      return policies();
    },
  });

  api.add({
    method: "post",
    path: `${PREFIX}/retention/sweep`,
    summary:
      "Sweep now: schedule the purge of everything past its period (the purges then run in the background). " +
      "With dry_run, only list what would be purged.",
    tag: TAG,
    auth: "operator",
    body: z.strictObject({ dry_run: z.boolean().default(false) }),
    response: SweepResult,
    errors: [],
    handler: async ({ body }) => {
      const result = await sweep(deps.pool, { dryRun: body.dry_run, serverName: deps.config.serverName });
      // A real sweep schedules purges like the background one; a dry run changes nothing.
      if (!body.dry_run) countSweep(deps.metrics, result);
      return result;
    },
  });
}
