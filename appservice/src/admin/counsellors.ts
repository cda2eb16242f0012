/**
 * Operator routes for counsellors: Matrix accounts created through Synapse's admin API (as the
 * bot, a server admin) plus the `counsellors` row and agency memberships.
 *
 * Creating a counsellor is retry-safe. A marker row (`counsellor_account_creations`) is
 * committed before the account is created at Synapse and removed in the transaction that writes
 * the counsellor, so a failure in between leaves a state the same request completes:
 * - no counsellor and no account with that user id: the account and the counsellor are created,
 *   and the answer carries the initial password (`created: true`);
 * - an account created by an earlier, interrupted attempt (created after its marker): the
 *   creation is completed with a fresh initial password (`created: true`); the earlier one was
 *   never shown to anyone;
 * - the counsellor exists with the same display name, language and memberships (the earlier
 *   answer was lost): `created: false` and no password. The operator resets the password
 *   (`POST .../password`) if it was lost; we never hand out the same password twice;
 * - any other existing user, or a counsellor with other details: M_USER_IN_USE, and the
 *   existing account is left untouched (it is looked up before anything is written to it).
 * Attempts for one user id run one after the other (advisory lock).
 */
import type pg from "pg";
import { z } from "zod";
import { recordEvent } from "../audit/audit.ts";
import type { FeatureDeps } from "../deps.ts";
import { ensureControlRoom } from "../control/rooms.ts";
import { drainCounsellorSteps, joinAgencies, leaveAgencies } from "../enquiries/access.ts";
import { LOCK_SPACE, pgError, SQLSTATE } from "../db/codes.ts";
import { withClient, withTransaction } from "../db/pool.ts";
import { LANGUAGES, type CounsellorRole, type Language } from "../domain.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { HomeserverError } from "../matrix/homeserver.ts";
import { PREFIX, TAG, callHomeserver, idNumber, idString, iso, nameSchema } from "./common.ts";
import { initialPassword } from "./password.ts";

/** Localparts of counsellors: lower case, so they cannot clash case-insensitively at Synapse. */
const LOCALPART = /^[a-z0-9][a-z0-9._-]{1,39}$/;
const LOCALPART_RULE = "2 to 40 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit";

/** The application service's exclusive user namespace (bot, internal users). */
const RESERVED_PREFIX = "connecta-";

const ROLES = ["counsellor", "team_lead"] as const satisfies readonly CounsellorRole[];

const Membership = z.strictObject({
  agency_id: idNumber,
  role: z.enum(ROLES).default("counsellor"),
});

const Memberships = z
  .array(Membership)
  .max(50, "must have at most 50 memberships")
  .refine((list) => new Set(list.map((m) => m.agency_id)).size === list.length, "must name each agency once")
  .describe("Agencies the counsellor works for, with the role in each");

/** A counsellor as the operator API answers it. */
export const Counsellor = z
  .object({
    user_id: z.string(),
    localpart: z.string(),
    display_name: z.string(),
    language: z.enum(LANGUAGES),
    absent: z.boolean(),
    absence_message: z.string().nullable(),
    must_change_password: z.boolean().describe("The initial password has not been replaced yet"),
    deactivated_at: z.string().nullable(),
    created_at: z.string(),
    memberships: z.array(z.object({ agency_id: z.number().int(), agency_name: z.string(), role: z.enum(ROLES) })),
    active_enquiries: z.number().int(),
  })
  .meta({ id: "AdminCounsellor" });

/** A counsellor as JSON. */
export type CounsellorJson = z.infer<typeof Counsellor>;

interface CounsellorRow {
  user_id: string;
  display_name: string;
  language: Language;
  absent: boolean;
  absence_message: string | null;
  must_change_password: boolean;
  deactivated_at: Date | null;
  created_at: Date;
  memberships: { agency_id: number; agency_name: string; role: CounsellorRole }[];
  active_enquiries: number;
}

const SELECT_COUNSELLORS = `
  SELECT c.user_id, c.display_name, c.language, c.absent, c.absence_message, c.must_change_password,
         c.deactivated_at, c.created_at,
         coalesce((SELECT json_agg(json_build_object('agency_id', m.agency_id, 'agency_name', a.name, 'role', m.role)
                                   ORDER BY m.agency_id)
                   FROM agency_memberships m JOIN agencies a ON a.id = m.agency_id
                   WHERE m.counsellor_id = c.user_id), '[]') AS memberships,
         (SELECT count(*) FROM enquiries e WHERE e.counsellor_id = c.user_id AND e.state = 'active')::int
           AS active_enquiries
  FROM counsellors c`;

function toCounsellor(row: CounsellorRow): CounsellorJson {
  return {
    user_id: row.user_id,
    localpart: row.user_id.slice(1, row.user_id.indexOf(":")),
    display_name: row.display_name,
    language: row.language,
    absent: row.absent,
    absence_message: row.absence_message,
    must_change_password: row.must_change_password,
    deactivated_at: iso(row.deactivated_at),
    created_at: iso(row.created_at) ?? "",
    memberships: row.memberships,
    active_enquiries: row.active_enquiries,
  };
}

async function findCounsellor(db: pg.Pool | pg.PoolClient, userId: string): Promise<CounsellorJson | null> {
  const { rows } = await db.query<CounsellorRow>(`${SELECT_COUNSELLORS} WHERE c.user_id = $1`, [userId]);
  return rows[0] ? toCounsellor(rows[0]) : null;
}

async function loadCounsellor(db: pg.Pool | pg.PoolClient, userId: string): Promise<CounsellorJson> {
  const found = await findCounsellor(db, userId);
  if (!found) throw new MatrixError("M_NOT_FOUND", `No counsellor ${userId}`);
  return found;
}

/** Locks a counsellor's row for the transaction; refuses unknown and (optionally) deactivated ones. */
async function lockCounsellor(db: pg.PoolClient, userId: string, allowDeactivated = false): Promise<void> {
  const { rows } = await db.query<{ deactivated: boolean }>(
    "SELECT deactivated_at IS NOT NULL AS deactivated FROM counsellors WHERE user_id = $1 FOR UPDATE",
    [userId],
  );
  if (!rows[0]) throw new MatrixError("M_NOT_FOUND", `No counsellor ${userId}`);
  if (rows[0].deactivated && !allowDeactivated) {
    throw new MatrixError("CONNECTA_WRONG_STATE", `Counsellor ${userId} is deactivated`);
  }
}

/** Refuses agency ids that do not exist. */
async function checkAgencies(db: pg.PoolClient, ids: number[]): Promise<void> {
  const { rows } = await db.query<{ id: string }>("SELECT id FROM agencies WHERE id = ANY($1::bigint[])", [ids]);
  const known = new Set(rows.map((r) => Number(r.id)));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length) throw new MatrixError("M_INVALID_PARAM", `Unknown agency: ${missing.join(", ")}`);
}

/** The agencies (ids, ascending) in which `memberships` make the counsellor a team lead. */
function teamLeadOf(memberships: { agency_id: number | string; role: string }[]): string {
  return memberships
    .filter((m) => m.role === "team_lead")
    .map((m) => Number(m.agency_id))
    .sort((a, b) => a - b)
    .join(",");
}

/**
 * Replaces a counsellor's memberships and records what that means for the rooms: out of the
 * agencies they leave, invited to the waiting enquiries of those they join (see
 * enquiries/access.ts). The caller drains the steps before it answers. Returns whether the
 * counsellor's roles changed (team lead in other agencies than before), a security event.
 */
async function replaceMemberships(
  db: pg.PoolClient,
  userId: string,
  memberships: z.infer<typeof Memberships>,
): Promise<{ rolesChanged: boolean }> {
  const wanted = memberships.map((m) => m.agency_id);
  await checkAgencies(db, wanted);
  const { rows } = await db.query<{ agency_id: string; role: string }>(
    "SELECT agency_id, role FROM agency_memberships WHERE counsellor_id = $1",
    [userId],
  );
  const before = rows.map((r) => Number(r.agency_id));
  await leaveAgencies(
    db,
    userId,
    before.filter((id) => !wanted.includes(id)),
  );
  await joinAgencies(
    db,
    userId,
    wanted.filter((id) => !before.includes(id)),
  );
  await db.query("DELETE FROM agency_memberships WHERE counsellor_id = $1", [userId]);
  await db.query(
    `INSERT INTO agency_memberships (agency_id, counsellor_id, role)
     SELECT m.agency_id, $1, m.role FROM unnest($2::bigint[], $3::text[]) AS m(agency_id, role)`,
    [userId, memberships.map((m) => m.agency_id), memberships.map((m) => m.role)],
  );
  return { rolesChanged: teamLeadOf(rows) !== teamLeadOf(memberships) };
}

/** Runs `fn` in a transaction on a client that is already checked out. */
async function inTransaction<T>(db: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await db.query("BEGIN");
  try {
    const result = await fn();
    await db.query("COMMIT");
    return result;
  } catch (err) {
    await db.query("ROLLBACK").catch(() => {});
    throw err;
  }
}

/** An agency named in memberships vanished between the check and the insert. */
function agencyGone(err: unknown): never {
  if (pgError(err)?.code === SQLSTATE.FOREIGN_KEY_VIOLATION) {
    throw new MatrixError("M_INVALID_PARAM", "An agency named in memberships does not exist (any more)");
  }
  throw err;
}

function checkLocalpart(localpart: string): void {
  if (!LOCALPART.test(localpart)) {
    throw new MatrixError("M_INVALID_USERNAME", `The localpart must be ${LOCALPART_RULE}`);
  }
  if (/^[0-9]+$/.test(localpart)) {
    throw new MatrixError(
      "M_INVALID_USERNAME",
      "The localpart must not be only digits (Matrix keeps those for guests)",
    );
  }
  if (localpart.startsWith(RESERVED_PREFIX)) {
    throw new MatrixError(
      "M_INVALID_USERNAME",
      `Localparts starting with ${RESERVED_PREFIX} belong to the Connecta service itself`,
    );
  }
}

function sameMemberships(a: { agency_id: number; role: string }[], b: { agency_id: number; role: string }[]) {
  const key = (list: { agency_id: number; role: string }[]) =>
    list
      .map((m) => `${m.agency_id}:${m.role}`)
      .sort()
      .join(",");
  return key(a) === key(b);
}

/** The part of Synapse's admin view of a user we look at. */
interface SynapseAccount {
  creation_ts?: unknown;
  deactivated?: unknown;
}

/** Whether a (not deactivated) account was created in or after the second `since`. */
function createdSince(account: SynapseAccount, since: number): boolean {
  const ts = Number(account.creation_ts);
  const seconds = ts > 1e11 ? Math.floor(ts / 1000) : ts; // Synapse answers seconds; be safe
  return account.deactivated !== true && seconds >= since;
}

const LocalpartParams = z.strictObject({
  localpart: z.string().regex(LOCALPART, `must be ${LOCALPART_RULE}`),
});

const CreateBody = z.strictObject({
  localpart: z
    .string()
    .max(255, "must be at most 255 characters")
    .describe(`Matrix localpart, ${LOCALPART_RULE}; not starting with ${RESERVED_PREFIX}`),
  display_name: nameSchema(100),
  language: z.enum(LANGUAGES).default("de"),
  memberships: Memberships.default([]),
});

/** Adds the counsellor routes. */
export function counsellorRoutes(api: Api, deps: FeatureDeps): void {
  const { pool, config } = deps;
  const userIdOf = (localpart: string) => `@${localpart}:${config.serverName}`;
  const adminUserPath = (userId: string) => `/_synapse/admin/v2/users/${encodeURIComponent(userId)}`;

  function refusedAccount(err: HomeserverError): MatrixError | null {
    if (err.errcode === "M_USER_IN_USE") return new MatrixError("M_USER_IN_USE", "This Matrix user exists already");
    if (err.errcode === "M_INVALID_USERNAME" || err.errcode === "M_EXCLUSIVE") {
      return new MatrixError("M_INVALID_USERNAME", `The homeserver refused the localpart: ${err.message}`);
    }
    return null;
  }

  /** The account at Synapse (null if there is none). */
  async function findAccount(userId: string): Promise<SynapseAccount | null> {
    try {
      return await deps.homeserver.request<SynapseAccount>("GET", adminUserPath(userId));
    } catch (err) {
      if (err instanceof HomeserverError && err.status === 404) return null;
      deps.log.warn({ userId, err: (err as Error).message }, "looking up a Matrix account failed");
      throw new MatrixError("M_UNAVAILABLE", "The homeserver did not answer; please try again");
    }
  }

  /** Seconds since the epoch of the marker of an earlier or this attempt (null if none). */
  async function markerStart(db: pg.PoolClient, userId: string): Promise<number | null> {
    const { rows } = await db.query<{ started: number }>(
      `SELECT floor(extract(epoch FROM started_at))::float8 AS started
       FROM counsellor_account_creations WHERE user_id = $1`,
      [userId],
    );
    return rows[0]?.started ?? null;
  }

  /**
   * Makes sure the account of `userId` exists and is ours to complete: either an earlier,
   * interrupted attempt created it (after its marker), or this call creates it now. Anything
   * else is someone else's account: M_USER_IN_USE, and nothing at Synapse is changed.
   */
  async function claimAccount(db: pg.PoolClient, userId: string): Promise<void> {
    const notOurs = async () => {
      await db.query("DELETE FROM counsellor_account_creations WHERE user_id = $1", [userId]);
      return new MatrixError("M_USER_IN_USE", `The Matrix user ${userId} exists already`);
    };
    const existing = await findAccount(userId);
    if (existing) {
      const started = await markerStart(db, userId);
      if (started === null || !createdSince(existing, started)) throw await notOurs();
      return;
    }
    // Recorded before the account exists, so that a retry after a failure recognises it.
    await db.query("INSERT INTO counsellor_account_creations (user_id) VALUES ($1) ON CONFLICT DO NOTHING", [userId]);
    const started = (await markerStart(db, userId)) ?? Infinity;
    // An empty PUT creates the account without a password. Should someone have registered the
    // name since the lookup above, it changes nothing, and the creation time gives that away
    // (but for a registration within the same second, which we accept).
    const created = await callHomeserver<SynapseAccount>(deps, "PUT", adminUserPath(userId), {}, refusedAccount);
    if (!createdSince(created, started)) throw await notOurs();
  }

  async function create(body: z.infer<typeof CreateBody>) {
    checkLocalpart(body.localpart);
    const userId = userIdOf(body.localpart);
    return withClient(pool, async (db) => {
      await db.query("SELECT pg_advisory_lock($1, hashtext($2))", [LOCK_SPACE.COUNSELLOR_ACCOUNTS, userId]);
      try {
        const existing = await findCounsellor(db, userId);
        if (existing) {
          const same =
            !existing.deactivated_at &&
            existing.display_name === body.display_name &&
            existing.language === body.language &&
            sameMemberships(existing.memberships, body.memberships);
          if (same) return { created: false, counsellor: existing };
          throw new MatrixError(
            "M_USER_IN_USE",
            existing.deactivated_at
              ? `${userId} was a counsellor and is deactivated; user ids are never given out again`
              : `${userId} is a counsellor already, with other details; change them with an update`,
          );
        }
        const reserved = await db.query(
          "SELECT 1 FROM intakes WHERE pseudonym = $1 AND completed_at IS NULL AND expires_at > now()",
          [body.localpart],
        );
        if (reserved.rowCount) {
          throw new MatrixError("M_USER_IN_USE", `The name ${body.localpart} is reserved by an advice seeker`);
        }
        await checkAgencies(
          db,
          body.memberships.map((m) => m.agency_id),
        );

        await claimAccount(db, userId);

        const password = initialPassword();
        await callHomeserver(deps, "PUT", adminUserPath(userId), {
          password,
          displayname: body.display_name,
          logout_devices: true,
        });
        await inTransaction(db, async () => {
          await db.query("INSERT INTO counsellors (user_id, display_name, language) VALUES ($1, $2, $3)", [
            userId,
            body.display_name,
            body.language,
          ]);
          const { rolesChanged } = await replaceMemberships(db, userId, body.memberships);
          await db.query("DELETE FROM counsellor_account_creations WHERE user_id = $1", [userId]);
          await recordEvent(db, { action: "admin.counsellor_created", actor: "operator", target: userId });
          if (rolesChanged) await recordEvent(db, { action: "admin.role_changed", actor: "operator", target: userId });
        }).catch(agencyGone);
        return { created: true, counsellor: await loadCounsellor(db, userId), initial_password: password };
      } finally {
        await db
          .query("SELECT pg_advisory_unlock($1, hashtext($2))", [LOCK_SPACE.COUNSELLOR_ACCOUNTS, userId])
          .catch(() => {});
      }
    });
  }

  api.add({
    method: "post",
    path: `${PREFIX}/counsellors`,
    summary: "Create a counsellor: Matrix account, initial password (answered once) and memberships",
    tag: TAG,
    auth: "operator",
    body: CreateBody,
    response: z.object({
      created: z.boolean().describe("False when the counsellor existed already with the same details (a retry)"),
      counsellor: Counsellor,
      initial_password: z
        .string()
        .optional()
        .describe("Only when created: hand it to the counsellor; it is not stored and never shown again"),
    }),
    errors: ["M_USER_IN_USE", "M_INVALID_USERNAME", "M_UNAVAILABLE"],
    handler: async ({ body, res }) => {
      res.set("cache-control", "no-store");
      const result = await create(body);
      await drainCounsellorSteps(pool, deps.steps, userIdOf(body.localpart));
      // Counsellors who work in Element find their control room waiting. A failure here is only
      // logged: the room is also made on the counsellor's first call of POST /api/v1/control-room.
      await ensureControlRoom(deps, userIdOf(body.localpart)).catch((err: Error) =>
        deps.log.warn({ err: err.message }, "control room not created yet"),
      );
      return result;
    },
  });

  api.add({
    method: "get",
    path: `${PREFIX}/counsellors`,
    summary: "List the counsellors (also deactivated ones), optionally of one agency",
    tag: TAG,
    auth: "operator",
    query: z.strictObject({ agency: idString.optional().describe("Only members of this agency") }),
    response: z.object({ counsellors: z.array(Counsellor) }),
    errors: [],
    handler: async ({ query }) => {
      const { rows } = await pool.query<CounsellorRow>(
        `${SELECT_COUNSELLORS}
         WHERE $1::bigint IS NULL
            OR EXISTS (SELECT 1 FROM agency_memberships m WHERE m.counsellor_id = c.user_id AND m.agency_id = $1)
         ORDER BY c.user_id`,
        [query.agency ?? null],
      );
      return { counsellors: rows.map(toCounsellor) };
    },
  });

  api.add({
    method: "get",
    path: `${PREFIX}/counsellors/{localpart}`,
    summary: "Show one counsellor",
    tag: TAG,
    auth: "operator",
    params: LocalpartParams,
    response: Counsellor,
    errors: ["M_NOT_FOUND"],
    handler: async ({ params }) => loadCounsellor(pool, userIdOf(params.localpart)),
  });

  api.add({
    method: "patch",
    path: `${PREFIX}/counsellors/{localpart}`,
    summary: "Change a counsellor; memberships given replace the old ones",
    tag: TAG,
    auth: "operator",
    params: LocalpartParams,
    body: z
      .strictObject({
        display_name: nameSchema(100).optional(),
        language: z.enum(LANGUAGES).optional(),
        memberships: Memberships.optional(),
        absent: z.boolean().optional(),
        absence_message: z
          .string()
          .max(1000, "must be at most 1000 characters")
          .regex(/^(?:[^\p{Cc}]|[\r\n\t])*$/u, "must not contain control characters other than line breaks")
          .nullable()
          .optional()
          .describe("Shown to advice seekers while the counsellor is absent; null removes it"),
      })
      .refine((b) => Object.keys(b).length > 0, "give at least one field to change"),
    response: Counsellor,
    errors: ["M_NOT_FOUND", "CONNECTA_WRONG_STATE", "CONNECTA_IN_USE", "M_UNAVAILABLE"],
    handler: async ({ params, body }) => {
      const userId = userIdOf(params.localpart);
      await withTransaction(pool, async (db) => {
        await lockCounsellor(db, userId);
        const { rolesChanged } = body.memberships
          ? await replaceMemberships(db, userId, body.memberships).catch(agencyGone)
          : { rolesChanged: false };
        await db.query(
          `UPDATE counsellors SET display_name = coalesce($2, display_name), language = coalesce($3, language),
                  absent = coalesce($4, absent),
                  absence_message = CASE WHEN $5 THEN $6 ELSE absence_message END
           WHERE user_id = $1`,
          [
            userId,
            body.display_name ?? null,
            body.language ?? null,
            body.absent ?? null,
            body.absence_message !== undefined,
            body.absence_message ?? null,
          ],
        );
        // Last, so that a refusal by Synapse rolls the whole change back.
        if (body.display_name !== undefined) {
          await callHomeserver(deps, "PUT", adminUserPath(userId), { displayname: body.display_name });
        }
        // After Synapse: the chain's lock is held to the commit, never during a call to Synapse.
        await recordEvent(db, { action: "admin.counsellor_changed", actor: "operator", target: userId });
        if (rolesChanged) await recordEvent(db, { action: "admin.role_changed", actor: "operator", target: userId });
      });
      // Answered once the rooms reflect the memberships: out of the agencies left, invited to
      // the waiting enquiries of those joined.
      await drainCounsellorSteps(pool, deps.steps, userId);
      return loadCounsellor(pool, userId);
    },
  });

  api.add({
    method: "post",
    path: `${PREFIX}/counsellors/{localpart}/password`,
    summary: "Give a counsellor a new initial password (answered once); logs out all their devices",
    tag: TAG,
    auth: "operator",
    params: LocalpartParams,
    response: z.object({ counsellor: Counsellor, initial_password: z.string() }),
    errors: ["M_NOT_FOUND", "CONNECTA_WRONG_STATE", "M_UNAVAILABLE"],
    handler: async ({ params, res }) => {
      res.set("cache-control", "no-store");
      const userId = userIdOf(params.localpart);
      const password = initialPassword();
      await withTransaction(pool, async (db) => {
        await lockCounsellor(db, userId);
        await db.query("UPDATE counsellors SET must_change_password = true WHERE user_id = $1", [userId]);
        await callHomeserver(deps, "PUT", adminUserPath(userId), { password, logout_devices: true });
        await recordEvent(db, { action: "admin.password_reset", actor: "operator", target: userId });
      });
      return { counsellor: await loadCounsellor(pool, userId), initial_password: password };
    },
  });

  api.add({
    method: "post",
    path: `${PREFIX}/counsellors/{localpart}/deactivate`,
    summary: "Deactivate a counsellor: memberships removed, Matrix account deactivated (repeatable)",
    tag: TAG,
    auth: "operator",
    params: LocalpartParams,
    response: Counsellor,
    errors: ["M_NOT_FOUND", "CONNECTA_IN_USE", "M_UNAVAILABLE"],
    handler: async ({ params }) => {
      const userId = userIdOf(params.localpart);
      await withTransaction(pool, async (db) => {
        await lockCounsellor(db, userId, true);
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM enquiries WHERE counsellor_id = $1 AND state = 'active'",
          [userId],
        );
        const active = rows[0]?.n ?? 0;
        if (active > 0) {
          throw new MatrixError(
            "CONNECTA_IN_USE",
            `${userId} still has ${active} active enquiries; hand them over before deactivating`,
          );
        }
        await db.query("UPDATE counsellors SET deactivated_at = coalesce(deactivated_at, now()) WHERE user_id = $1", [
          userId,
        ]);
        const { rows: agencies } = await db.query<{ agency_id: string }>(
          "DELETE FROM agency_memberships WHERE counsellor_id = $1 RETURNING agency_id",
          [userId],
        );
        await leaveAgencies(
          db,
          userId,
          agencies.map((a) => Number(a.agency_id)),
        );
        await recordEvent(db, { action: "admin.counsellor_deactivated", actor: "operator", target: userId });
      });
      // After the commit: if Synapse fails now, repeating the request finishes the job.
      try {
        await deps.homeserver.request("POST", `/_synapse/admin/v1/deactivate/${encodeURIComponent(userId)}`, {
          erase: false,
        });
      } catch (err) {
        // No account at all (never completed, or removed by hand): nothing left to deactivate.
        if (!(err instanceof HomeserverError && err.status === 404)) {
          deps.log.warn({ userId, err: (err as Error).message }, "deactivating a counsellor's account failed");
          throw new MatrixError(
            "M_UNAVAILABLE",
            "The homeserver did not deactivate the account; please repeat the request",
          );
        }
      }
      // Synapse parts a deactivated account from its rooms in the background; our steps take it
      // out of the agency's rooms before we answer.
      await drainCounsellorSteps(pool, deps.steps, userId);
      return loadCounsellor(pool, userId);
    },
  });
}
