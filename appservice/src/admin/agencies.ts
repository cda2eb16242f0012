/**
 * Operator routes for agencies (Beratungsstellen): their topics, languages, postcode ranges and
 * the fallback flag. Which agency gets an enquiry is decided by `findAgency` (agencies/match.ts).
 */
import type pg from "pg";
import { z } from "zod";
import { recordEvent } from "../audit/audit.ts";
import type { FeatureDeps } from "../deps.ts";
import { pgError, SQLSTATE } from "../db/codes.ts";
import { withTransaction } from "../db/pool.ts";
import { LANGUAGES } from "../domain.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { PREFIX, TAG, idString, iso, nameSchema, topicId, unique } from "./common.ts";

const postcode = z
  .string()
  .regex(/^[0-9]{5}$/, "must be a five-digit German postcode")
  .describe("Five-digit German postcode");

/** An inclusive postcode range; `first` and `last` may be equal. */
const PostcodeRange = z
  .strictObject({ first: postcode, last: postcode })
  .refine((r) => r.first <= r.last, "first must not come after last");

/** An agency's ranges: at most 1000, none overlapping another. */
const PostcodeRanges = z
  .array(PostcodeRange)
  .max(1000, "must have at most 1000 ranges")
  .superRefine((ranges, ctx) => {
    const sorted = [...ranges].sort((a, b) => a.first.localeCompare(b.first));
    for (let i = 1; i < sorted.length; i++) {
      const [prev, next] = [sorted[i - 1], sorted[i]];
      if (prev && next && next.first <= prev.last) {
        ctx.addIssue({
          code: "custom",
          message: `ranges ${prev.first}-${prev.last} and ${next.first}-${next.last} overlap`,
        });
        return;
      }
    }
  });

const Languages = unique(z.enum(LANGUAGES), LANGUAGES.length, "languages").min(1, "must name at least one language");

const AgencyFields = {
  name: nameSchema(200),
  languages: Languages.describe("Languages counselling is offered in"),
  is_fallback: z.boolean().describe("The agency for postcodes no other agency covers (at most one)"),
  topics: unique(topicId, 100, "topics").describe("Ids of the topics the agency offers"),
  postcode_ranges: PostcodeRanges.describe("Postcodes the agency covers (inclusive ranges)"),
};

/** An agency as the operator API answers it. */
export const Agency = z
  .object({
    id: z.number().int(),
    name: z.string(),
    languages: z.array(z.enum(LANGUAGES)),
    is_fallback: z.boolean(),
    topics: z.array(z.string()),
    postcode_ranges: z.array(z.object({ first: z.string(), last: z.string() })),
    counsellor_count: z.number().int().describe("Counsellors and team leads with a membership"),
    created_at: z.string(),
  })
  .meta({ id: "AdminAgency" });

/** An agency as JSON. */
export type AgencyJson = z.infer<typeof Agency>;

interface AgencyRow {
  id: string;
  name: string;
  languages: string[];
  is_fallback: boolean;
  topics: string[];
  postcode_ranges: { first: string; last: string }[];
  counsellor_count: number;
  created_at: Date;
}

const SELECT_AGENCIES = `
  SELECT a.id, a.name, a.languages, a.is_fallback, a.created_at,
         coalesce((SELECT array_agg(t.topic_id ORDER BY t.topic_id) FROM agency_topics t
                   WHERE t.agency_id = a.id), '{}') AS topics,
         coalesce((SELECT json_agg(json_build_object('first', r.first_postcode, 'last', r.last_postcode)
                                   ORDER BY r.first_postcode)
                   FROM agency_postcode_ranges r WHERE r.agency_id = a.id), '[]') AS postcode_ranges,
         (SELECT count(*) FROM agency_memberships m WHERE m.agency_id = a.id)::int AS counsellor_count
  FROM agencies a`;

function toAgency(row: AgencyRow): AgencyJson {
  return {
    ...row,
    id: Number(row.id),
    languages: row.languages.filter((l): l is AgencyJson["languages"][number] =>
      (LANGUAGES as readonly string[]).includes(l),
    ),
    created_at: iso(row.created_at) ?? "",
  };
}

/** Loads one agency, or throws M_NOT_FOUND. */
async function loadAgency(db: pg.Pool | pg.PoolClient, id: number): Promise<AgencyJson> {
  const { rows } = await db.query<AgencyRow>(`${SELECT_AGENCIES} WHERE a.id = $1`, [id]);
  if (!rows[0]) throw new MatrixError("M_NOT_FOUND", `No agency with id ${id}`);
  return toAgency(rows[0]);
}

/** Refuses topic ids that do not exist. */
async function checkTopics(db: pg.PoolClient, topics: string[]): Promise<void> {
  const { rows } = await db.query<{ id: string }>("SELECT id FROM topics WHERE id = ANY($1::text[])", [topics]);
  const known = new Set(rows.map((r) => r.id));
  const missing = topics.filter((t) => !known.has(t));
  if (missing.length) throw new MatrixError("M_INVALID_PARAM", `Unknown topic: ${missing.join(", ")}`);
}

async function replaceTopics(db: pg.PoolClient, agencyId: number, topics: string[]): Promise<void> {
  await checkTopics(db, topics);
  await db.query("DELETE FROM agency_topics WHERE agency_id = $1", [agencyId]);
  await db.query("INSERT INTO agency_topics (agency_id, topic_id) SELECT $1, unnest($2::text[])", [agencyId, topics]);
}

async function replaceRanges(db: pg.PoolClient, agencyId: number, ranges: { first: string; last: string }[]) {
  await db.query("DELETE FROM agency_postcode_ranges WHERE agency_id = $1", [agencyId]);
  await db.query(
    `INSERT INTO agency_postcode_ranges (agency_id, first_postcode, last_postcode)
     SELECT $1, r.first, r.last FROM unnest($2::text[], $3::text[]) AS r(first, last)`,
    [agencyId, ranges.map((r) => r.first), ranges.map((r) => r.last)],
  );
}

/** Turns a unique violation on agencies into a clear conflict. */
async function uniqueAgency<T>(name: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = pgError(err);
    if (e?.code === SQLSTATE.UNIQUE_VIOLATION && e.constraint === "agencies_one_fallback") {
      throw new MatrixError(
        "CONNECTA_ALREADY_EXISTS",
        "Another agency is the fallback already; remove its fallback flag first",
      );
    }
    if (e?.code === SQLSTATE.UNIQUE_VIOLATION) {
      throw new MatrixError("CONNECTA_ALREADY_EXISTS", `An agency named "${name ?? ""}" exists already`);
    }
    throw err;
  }
}

const AgencyParams = z.strictObject({ agencyId: idString });

/** Adds the agency routes. */
export function agencyRoutes(api: Api, { pool }: FeatureDeps): void {
  api.add({
    method: "post",
    path: `${PREFIX}/agencies`,
    summary: "Create an agency",
    tag: TAG,
    auth: "operator",
    body: z.strictObject({
      name: AgencyFields.name,
      languages: AgencyFields.languages.default(["de"]),
      is_fallback: AgencyFields.is_fallback.default(false),
      topics: AgencyFields.topics.default([]),
      postcode_ranges: AgencyFields.postcode_ranges.default([]),
    }),
    response: Agency,
    errors: ["CONNECTA_ALREADY_EXISTS"],
    handler: async ({ body }) =>
      uniqueAgency(body.name, () =>
        withTransaction(pool, async (db) => {
          const { rows } = await db.query<{ id: string }>(
            "INSERT INTO agencies (name, languages, is_fallback) VALUES ($1, $2, $3) RETURNING id",
            [body.name, body.languages, body.is_fallback],
          );
          const id = Number(rows[0]?.id);
          await replaceTopics(db, id, body.topics);
          await replaceRanges(db, id, body.postcode_ranges);
          const agency = await loadAgency(db, id);
          await recordEvent(db, { action: "admin.agency_created", actor: "operator", target: String(id) });
          return agency;
        }),
      ),
  });

  api.add({
    method: "get",
    path: `${PREFIX}/agencies`,
    summary: "List the agencies with topics, postcode ranges and counsellor counts",
    tag: TAG,
    auth: "operator",
    query: z.strictObject({}),
    response: z.object({ agencies: z.array(Agency) }),
    errors: [],
    handler: async () => {
      const { rows } = await pool.query<AgencyRow>(`${SELECT_AGENCIES} ORDER BY a.id`);
      return { agencies: rows.map(toAgency) };
    },
  });

  api.add({
    method: "get",
    path: `${PREFIX}/agencies/{agencyId}`,
    summary: "Show one agency",
    tag: TAG,
    auth: "operator",
    params: AgencyParams,
    response: Agency,
    errors: ["M_NOT_FOUND"],
    handler: async ({ params }) => loadAgency(pool, params.agencyId),
  });

  api.add({
    method: "patch",
    path: `${PREFIX}/agencies/{agencyId}`,
    summary: "Change an agency; topics and postcode ranges given replace the old ones",
    tag: TAG,
    auth: "operator",
    params: AgencyParams,
    body: z
      .strictObject({
        name: AgencyFields.name.optional(),
        languages: AgencyFields.languages.optional(),
        is_fallback: AgencyFields.is_fallback.optional(),
        topics: AgencyFields.topics.optional(),
        postcode_ranges: AgencyFields.postcode_ranges.optional(),
      })
      .refine((b) => Object.keys(b).length > 0, "give at least one field to change"),
    response: Agency,
    errors: ["M_NOT_FOUND", "CONNECTA_ALREADY_EXISTS"],
    handler: async ({ params, body }) =>
      uniqueAgency(body.name, () =>
        withTransaction(pool, async (db) => {
          const id = params.agencyId;
          const found = await db.query("SELECT 1 FROM agencies WHERE id = $1 FOR UPDATE", [id]);
          if (!found.rowCount) throw new MatrixError("M_NOT_FOUND", `No agency with id ${id}`);
          await db.query(
            `UPDATE agencies SET name = coalesce($2, name), languages = coalesce($3, languages),
                    is_fallback = coalesce($4, is_fallback)
             WHERE id = $1`,
            [id, body.name ?? null, body.languages ?? null, body.is_fallback ?? null],
          );
          if (body.topics) await replaceTopics(db, id, body.topics);
          if (body.postcode_ranges) await replaceRanges(db, id, body.postcode_ranges);
          const agency = await loadAgency(db, id);
          await recordEvent(db, { action: "admin.agency_changed", actor: "operator", target: String(id) });
          return agency;
        }),
      ),
  });

  api.add({
    method: "delete",
    path: `${PREFIX}/agencies/{agencyId}`,
    summary: "Delete an agency that never had an enquiry (its memberships go with it)",
    tag: TAG,
    auth: "operator",
    params: AgencyParams,
    response: z.object({ deleted: z.number().int().describe("Id of the deleted agency") }),
    errors: ["M_NOT_FOUND", "CONNECTA_IN_USE"],
    handler: async ({ params }) => {
      const id = params.agencyId;
      try {
        return await withTransaction(pool, async (db) => {
          const found = await db.query("SELECT 1 FROM agencies WHERE id = $1 FOR UPDATE", [id]);
          if (!found.rowCount) throw new MatrixError("M_NOT_FOUND", `No agency with id ${id}`);
          const { rows } = await db.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM enquiries WHERE agency_id = $1",
            [id],
          );
          const enquiries = rows[0]?.n ?? 0;
          if (enquiries > 0) {
            throw new MatrixError(
              "CONNECTA_IN_USE",
              `Agency ${id} has ${enquiries} enquiries and cannot be deleted; remove its topics and postcode ranges instead`,
            );
          }
          await db.query("DELETE FROM agencies WHERE id = $1", [id]);
          await recordEvent(db, { action: "admin.agency_deleted", actor: "operator", target: String(id) });
          return { deleted: id };
        });
      } catch (err) {
        if (pgError(err)?.code === SQLSTATE.FOREIGN_KEY_VIOLATION) {
          throw new MatrixError(
            "CONNECTA_IN_USE",
            `Agency ${id} is named by intakes of advice seekers and cannot be deleted`,
          );
        }
        throw err;
      }
    },
  });
}
