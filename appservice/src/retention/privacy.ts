/**
 * Data-protection rights (docs/privacy.md): what the server knows about a person, for their
 * download (Art. 15 and 20 GDPR; the web client adds the conversation, decrypted in the
 * browser), and the erasure of a seeker's account with all their conversations (Art. 17): each
 * is purged like an expired one (sweeper.ts), after a content-free notice to its counsellor.
 * Seekers ask for themselves; operators for anyone, by user id.
 */
import type pg from "pg";
import { z } from "zod";
import { PREFIX, TAG } from "../admin/common.ts";
import { withTransaction } from "../db/pool.ts";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { enqueueStep } from "../steps/steps.ts";
import { recordEvent } from "../audit/audit.ts";
import type { AuditActor } from "../audit/actions.ts";
import { deletionAt, startPurge } from "./sweeper.ts";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const PersonalData = z
  .object({
    user_id: z.string(),
    exported_at: z.string(),
    enquiries: z.array(
      z.object({
        enquiry_id: z.int(),
        room_id: z.string().nullable(),
        state: z.string(),
        topic: z.object({ id: z.string(), name_de: z.string(), name_en: z.string() }),
        agency: z.string(),
        language: z.string(),
        age_group: z.string(),
        created_at: z.string(),
        waiting_since: z.string().nullable(),
        closed_at: z.string().nullable(),
        deletion_at: z.string(),
      }),
    ),
    intakes: z
      .array(
        z.object({
          pseudonym: z.string(),
          postcode: z.string().nullable(),
          language: z.string(),
          age_group: z.string(),
          created_at: z.string(),
          completed_at: z.string().nullable(),
        }),
      )
      .describe("The intakes of the pseudonym still kept"),
  })
  .meta({ id: "PersonalData" });

/** What our database holds about seeker `userId`. */
export async function personalData(
  pool: pg.Pool,
  userId: string,
  reopenWindowDays: number,
): Promise<z.infer<typeof PersonalData>> {
  const enquiries = await pool.query<{
    id: string;
    room_id: string | null;
    state: string;
    topic_id: string;
    name_de: string;
    name_en: string;
    agency: string;
    language: string;
    age_group: string;
    created_at: Date;
    waiting_since: Date | null;
    closed_at: Date | null;
    deletion_at: Date;
  }>(
    `SELECT e.id, e.room_id, e.state, e.topic_id, t.name_de, t.name_en, a.name AS agency, e.language, e.age_group,
            e.created_at, e.waiting_since, e.closed_at, ${deletionAt("e", "$2")} AS deletion_at
       FROM enquiries e JOIN topics t ON t.id = e.topic_id JOIN agencies a ON a.id = e.agency_id
      WHERE e.seeker_id = $1 ORDER BY e.id`,
    [userId, reopenWindowDays],
  );
  const localpart = /^@([^:]+):/.exec(userId)?.[1] ?? "";
  const intakes = await pool.query<{
    pseudonym: string;
    postcode: string | null;
    language: string;
    age_group: string;
    created_at: Date;
    completed_at: Date | null;
  }>(
    `SELECT pseudonym, postcode, language, age_group, created_at, completed_at
       FROM intakes WHERE pseudonym = $1 ORDER BY created_at`,
    [localpart],
  );
  return {
    user_id: userId,
    exported_at: new Date().toISOString(),
    enquiries: enquiries.rows.map((r) => ({
      enquiry_id: Number(r.id),
      room_id: r.room_id,
      state: r.state,
      topic: { id: r.topic_id, name_de: r.name_de, name_en: r.name_en },
      agency: r.agency,
      language: r.language,
      age_group: r.age_group,
      created_at: r.created_at.toISOString(),
      waiting_since: iso(r.waiting_since),
      closed_at: iso(r.closed_at),
      deletion_at: r.deletion_at.toISOString(),
    })),
    intakes: intakes.rows.map((r) => ({
      ...r,
      created_at: r.created_at.toISOString(),
      completed_at: iso(r.completed_at),
    })),
  };
}

/**
 * Erases seeker `userId`: starts the purge of each of their conversations (its counsellor told
 * first), or, without any, the erasure of the account. Returns how many conversations go.
 */
export async function eraseSeeker(pool: pg.Pool, userId: string, actor: AuditActor): Promise<number> {
  return withTransaction(pool, async (db) => {
    const { rows } = await db.query<{ id: string; counsellor_id: string | null; purging: boolean }>(
      `SELECT e.id, (SELECT a.counsellor_id FROM assignments a WHERE a.enquiry_id = e.id
                      ORDER BY a.assigned_at DESC, a.id DESC LIMIT 1) AS counsellor_id,
              EXISTS (SELECT 1 FROM purges p WHERE p.enquiry_id = e.id) AS purging
         FROM enquiries e WHERE e.seeker_id = $1 ORDER BY e.id FOR UPDATE OF e`,
      [userId],
    );
    let started = 0;
    for (const r of rows) {
      const notice = r.counsellor_id
        ? [{ kind: "erasure_notice" as const, payload: { user_id: r.counsellor_id } }]
        : [];
      if (await startPurge(db, Number(r.id), "erasure", new Date(), notice)) started++;
    }
    if (rows.length === 0) await enqueueStep(db, null, { kind: "erase_user", payload: { user_id: userId } });
    await recordEvent(db, { action: "privacy.erasure_requested", actor, target: userId });
    return started;
  });
}

const Erasure = z
  .object({ enquiries: z.int().describe("Conversations whose deletion was started now") })
  .meta({ id: "Erasure" });

const UserParams = z.strictObject({
  userId: z
    .string()
    .max(255)
    .regex(/^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$/, "expected a Matrix user id"),
});

/** Adds the routes of the data-protection rights. */
export function privacyRoutes(api: Api, deps: FeatureDeps): void {
  /** Refuses counsellors: their accounts are the operator's (appservice/src/admin/counsellors.ts). */
  const seeker = async (userId: string) => {
    const { rowCount } = await deps.pool.query("SELECT 1 FROM counsellors WHERE user_id = $1", [userId]);
    if (rowCount) throw new MatrixError("M_FORBIDDEN", "Counsellors' accounts are managed by the operator");
    return userId;
  };

  api.add({
    method: "get",
    path: "/api/v1/me/export",
    summary: "What the server keeps about the calling seeker (the conversation itself comes from their own client)",
    tag: "privacy",
    auth: "user",
    response: PersonalData,
    errors: ["M_FORBIDDEN"],
    handler: async ({ userId }) => {
      const data = await personalData(deps.pool, await seeker(String(userId)), deps.config.reopenWindowDays);
      await recordEvent(deps.pool, {
        action: "privacy.export",
        actor: data.user_id as AuditActor,
        target: data.user_id,
      });
      return data;
    },
  });

  api.add({
    method: "post",
    path: "/api/v1/me/erasure",
    summary:
      "The calling seeker deletes their account: every conversation of theirs is deleted like an expired one " +
      "(its counsellor is told, without content), then the account. Cannot be undone.",
    tag: "privacy",
    auth: "user",
    body: z.strictObject({}),
    response: Erasure,
    errors: ["M_FORBIDDEN"],
    handler: async ({ userId }) => {
      const caller = (await seeker(String(userId))) as AuditActor;
      return { enquiries: await eraseSeeker(deps.pool, caller, caller) };
    },
  });

  api.add({
    method: "get",
    path: `${PREFIX}/users/{userId}/export`,
    summary: "What our database keeps about a seeker, for a request under Art. 15 GDPR",
    tag: TAG,
    auth: "operator",
    params: UserParams,
    response: PersonalData,
    errors: ["M_FORBIDDEN"],
    handler: async ({ params }) => {
      const data = await personalData(deps.pool, await seeker(params.userId), deps.config.reopenWindowDays);
      await recordEvent(deps.pool, { action: "privacy.export", actor: "operator", target: data.user_id });
      return data;
    },
  });

  api.add({
    method: "post",
    path: `${PREFIX}/users/{userId}/erasure`,
    summary: "Erase a seeker and their conversations, for a request under Art. 17 GDPR",
    tag: TAG,
    auth: "operator",
    params: UserParams,
    body: z.strictObject({}),
    response: Erasure,
    errors: ["M_FORBIDDEN"],
    handler: async ({ params }) => ({
      enquiries: await eraseSeeker(deps.pool, await seeker(params.userId), "operator"),
    }),
  });
}
