/**
 * SQL of the counsellor self API: one query per function. A counsellor is a row in
 * `counsellors`; a deactivated one (`deactivated_at` set) keeps the row but may no longer act,
 * and every function here treats it as such.
 */
import type pg from "pg";
import type { z } from "zod";
import type { CounsellorRole, Language } from "../domain.ts";
import type { Absence, Colleague, CounsellorProfile } from "./schemas.ts";

/** A counsellor's own profile. */
export type CounsellorProfileJson = z.infer<typeof CounsellorProfile>;
/** A counsellor's absence. */
export type AbsenceJson = z.infer<typeof Absence>;
/** A colleague in an agency. */
export type ColleagueJson = z.infer<typeof Colleague>;

/** What the database knows about a caller who is (or was) a counsellor. */
export interface OwnRecord {
  /** The profile as the counsellor sees it. */
  profile: CounsellorProfileJson;
  /** Deactivated by an operator: may no longer act. */
  deactivated: boolean;
}

interface ProfileRow {
  user_id: string;
  display_name: string;
  language: Language;
  must_change_password: boolean;
  absent: boolean;
  absence_message: string | null;
  deactivated: boolean;
  agencies: { agency_id: number; name: string; role: CounsellorRole }[];
}

/** The counsellor `userId` with their agencies, or null when they never were one. */
export async function findCounsellor(db: pg.Pool | pg.PoolClient, userId: string): Promise<OwnRecord | null> {
  const { rows } = await db.query<ProfileRow>(
    `SELECT c.user_id, c.display_name, c.language, c.must_change_password, c.absent, c.absence_message,
            c.deactivated_at IS NOT NULL AS deactivated,
            coalesce((SELECT json_agg(json_build_object('agency_id', m.agency_id, 'name', a.name, 'role', m.role)
                                      ORDER BY a.name, m.agency_id)
                        FROM agency_memberships m JOIN agencies a ON a.id = m.agency_id
                       WHERE m.counsellor_id = c.user_id), '[]') AS agencies
       FROM counsellors c
      WHERE c.user_id = $1`,
    [userId],
  );
  const row = rows[0];
  if (!row) return null;
  return {
    deactivated: row.deactivated,
    profile: {
      user_id: row.user_id,
      role: "counsellor",
      display_name: row.display_name,
      language: row.language,
      must_change_password: row.must_change_password,
      absence: { active: row.absent, message: row.absence_message },
      agencies: row.agencies.map((a) => ({ agency_id: Number(a.agency_id), name: a.name, role: a.role })),
    },
  };
}

/** Clears the initial-password flag of an active counsellor; false when `userId` is none. */
export async function markPasswordChanged(db: pg.Pool | pg.PoolClient, userId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE counsellors SET must_change_password = false WHERE user_id = $1 AND deactivated_at IS NULL",
    [userId],
  );
  return rowCount === 1;
}

/** Stores an active counsellor's absence; null when `userId` is none. */
export async function setAbsence(
  db: pg.Pool | pg.PoolClient,
  userId: string,
  absence: AbsenceJson,
): Promise<AbsenceJson | null> {
  const { rows } = await db.query<{ absent: boolean; absence_message: string | null }>(
    `UPDATE counsellors SET absent = $2, absence_message = $3
      WHERE user_id = $1 AND deactivated_at IS NULL
      RETURNING absent, absence_message`,
    [userId, absence.active, absence.message],
  );
  const row = rows[0];
  return row ? { active: row.absent, message: row.absence_message } : null;
}

/** How the caller stands to an agency. */
export type AgencyStanding = "member" | "outsider" | "deactivated" | "not_a_counsellor";

/**
 * Whether `userId` is an active counsellor of `agencyId`, a counsellor elsewhere (or the agency
 * does not exist), a deactivated counsellor, or no counsellor at all.
 */
export async function agencyStanding(
  db: pg.Pool | pg.PoolClient,
  userId: string,
  agencyId: number,
): Promise<AgencyStanding> {
  const { rows } = await db.query<{ deactivated: boolean; member: boolean }>(
    `SELECT c.deactivated_at IS NOT NULL AS deactivated,
            EXISTS (SELECT 1 FROM agency_memberships m WHERE m.agency_id = $2 AND m.counsellor_id = c.user_id)
              AS member
       FROM counsellors c
      WHERE c.user_id = $1`,
    [userId, agencyId],
  );
  const row = rows[0];
  if (!row) return "not_a_counsellor";
  if (row.deactivated) return "deactivated";
  return row.member ? "member" : "outsider";
}

/** The active counsellors of `agencyId` but `exceptUserId`, by display name. */
export async function listColleagues(
  db: pg.Pool | pg.PoolClient,
  agencyId: number,
  exceptUserId: string,
): Promise<ColleagueJson[]> {
  const { rows } = await db.query<ColleagueJson>(
    `SELECT c.user_id, c.display_name, m.role, c.absent
       FROM agency_memberships m JOIN counsellors c ON c.user_id = m.counsellor_id
      WHERE m.agency_id = $1 AND m.counsellor_id <> $2 AND c.deactivated_at IS NULL
      ORDER BY c.display_name, c.user_id`,
    [agencyId, exceptUserId],
  );
  return rows;
}
