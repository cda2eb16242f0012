/**
 * Operator routes for topics: what an advice seeker can choose an enquiry to be about.
 */
import { z } from "zod";
import { recordEvent } from "../audit/audit.ts";
import type { FeatureDeps } from "../deps.ts";
import { pgError, SQLSTATE } from "../db/codes.ts";
import { withTransaction } from "../db/pool.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { PREFIX, TAG, iso, nameSchema, topicId } from "./common.ts";

/** A topic as the operator API answers it. */
export const Topic = z
  .object({
    id: z.string(),
    name_de: z.string(),
    name_en: z.string(),
    agency_count: z.number().int().describe("Agencies offering the topic"),
    created_at: z.string(),
  })
  .meta({ id: "AdminTopic" });

/** A topic as JSON. */
export type TopicJson = z.infer<typeof Topic>;

interface TopicRow {
  id: string;
  name_de: string;
  name_en: string;
  agency_count: number;
  created_at: Date;
}

const SELECT_TOPICS = `
  SELECT t.id, t.name_de, t.name_en, t.created_at,
         (SELECT count(*) FROM agency_topics at WHERE at.topic_id = t.id)::int AS agency_count
  FROM topics t`;

function toTopic(row: TopicRow): TopicJson {
  return { ...row, created_at: iso(row.created_at) ?? "" };
}

const TopicParams = z.strictObject({ topicId });

/** Adds the topic routes. */
export function topicRoutes(api: Api, { pool }: FeatureDeps): void {
  async function getTopic(id: string): Promise<TopicJson> {
    const { rows } = await pool.query<TopicRow>(`${SELECT_TOPICS} WHERE t.id = $1`, [id]);
    if (!rows[0]) throw new MatrixError("M_NOT_FOUND", `No topic with id ${id}`);
    return toTopic(rows[0]);
  }

  api.add({
    method: "post",
    path: `${PREFIX}/topics`,
    summary: "Create a topic",
    tag: TAG,
    auth: "operator",
    body: z.strictObject({ id: topicId, name_de: nameSchema(100), name_en: nameSchema(100) }),
    response: Topic,
    errors: ["CONNECTA_ALREADY_EXISTS"],
    handler: async ({ body }) => {
      try {
        await withTransaction(pool, async (db) => {
          await db.query("INSERT INTO topics (id, name_de, name_en) VALUES ($1, $2, $3)", [
            body.id,
            body.name_de,
            body.name_en,
          ]);
          await recordEvent(db, { action: "admin.topic_created", actor: "operator", target: body.id });
        });
      } catch (err) {
        if (pgError(err)?.code === SQLSTATE.UNIQUE_VIOLATION) {
          throw new MatrixError("CONNECTA_ALREADY_EXISTS", `A topic with id ${body.id} exists already`);
        }
        throw err;
      }
      return getTopic(body.id);
    },
  });

  api.add({
    method: "get",
    path: `${PREFIX}/topics`,
    summary: "List the topics",
    tag: TAG,
    auth: "operator",
    query: z.strictObject({}),
    response: z.object({ topics: z.array(Topic) }),
    errors: [],
    handler: async () => {
      const { rows } = await pool.query<TopicRow>(`${SELECT_TOPICS} ORDER BY t.id`);
      return { topics: rows.map(toTopic) };
    },
  });

  api.add({
    method: "patch",
    path: `${PREFIX}/topics/{topicId}`,
    summary: "Rename a topic",
    tag: TAG,
    auth: "operator",
    params: TopicParams,
    body: z
      .strictObject({ name_de: nameSchema(100).optional(), name_en: nameSchema(100).optional() })
      .refine((b) => b.name_de !== undefined || b.name_en !== undefined, "give name_de, name_en or both"),
    response: Topic,
    errors: ["M_NOT_FOUND"],
    handler: async ({ params, body }) => {
      await withTransaction(pool, async (db) => {
        const { rowCount } = await db.query(
          `UPDATE topics SET name_de = coalesce($2, name_de), name_en = coalesce($3, name_en) WHERE id = $1`,
          [params.topicId, body.name_de ?? null, body.name_en ?? null],
        );
        if (!rowCount) throw new MatrixError("M_NOT_FOUND", `No topic with id ${params.topicId}`);
        await recordEvent(db, { action: "admin.topic_changed", actor: "operator", target: params.topicId });
      });
      return getTopic(params.topicId);
    },
  });
}
