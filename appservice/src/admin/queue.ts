/**
 * Queue inspection for operators: how many enquiries each agency has in each state and how long
 * the waiting ones have waited. Enquiries have no content on our side; this shows metadata only
 * (no seeker ids either).
 */
import { z } from "zod";
import type { FeatureDeps } from "../deps.ts";
import { ENQUIRY_STATES, type EnquiryState } from "../domain.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { PREFIX, TAG, idString, iso } from "./common.ts";

const StateCounts = z.object(
  Object.fromEntries(ENQUIRY_STATES.map((s) => [s, z.number().int()])) as Record<EnquiryState, z.ZodNumber>,
);

const AgencyQueue = z
  .object({
    agency_id: z.number().int(),
    agency_name: z.string(),
    counts: StateCounts.describe("Enquiries per state"),
    longest_wait_seconds: z.number().nullable().describe("Wait of the oldest waiting enquiry"),
    average_wait_seconds: z.number().nullable().describe("Average wait of the waiting enquiries"),
  })
  .meta({ id: "AdminAgencyQueue" });

const QueueEnquiry = z
  .object({
    id: z.number().int(),
    agency_id: z.number().int(),
    state: z.enum(ENQUIRY_STATES),
    topic_id: z.string(),
    language: z.string(),
    counsellor_id: z.string().nullable(),
    created_at: z.string(),
    waiting_since: z.string().nullable(),
    waiting_seconds: z.number().nullable().describe("For waiting enquiries: how long they have waited"),
  })
  .meta({ id: "AdminQueueEnquiry" });

interface SummaryRow {
  agency_id: string;
  agency_name: string;
  created: number;
  waiting: number;
  active: number;
  closed: number;
  archived: number;
  longest_wait_seconds: number | null;
  average_wait_seconds: number | null;
}

interface EnquiryRow {
  id: string;
  agency_id: string;
  state: EnquiryState;
  topic_id: string;
  language: string;
  counsellor_id: string | null;
  created_at: Date;
  waiting_since: Date | null;
  waiting_seconds: number | null;
}

const QueueAnswer = z.object({ agencies: z.array(AgencyQueue), enquiries: z.array(QueueEnquiry) });

/** The queue route's answer. */
export type QueueJson = z.infer<typeof QueueAnswer>;

const round = (n: number | null) => (n === null ? null : Math.round(n));

/** Adds the queue route. */
export function queueRoutes(api: Api, { pool }: FeatureDeps): void {
  api.add({
    method: "get",
    path: `${PREFIX}/queue`,
    summary: "Enquiry counts and waiting times per agency, and the enquiries in one state (oldest first)",
    tag: TAG,
    auth: "operator",
    query: z.strictObject({
      agency: idString.optional().describe("Only this agency"),
      state: z.enum(ENQUIRY_STATES).default("waiting").describe("State of the enquiries listed"),
      limit: z
        .string()
        .regex(/^[1-9][0-9]{0,3}$/, "must be a number from 1 to 1000")
        .transform(Number)
        .refine((n) => n <= 1000, "must be a number from 1 to 1000")
        .default(100)
        .describe("Most enquiries listed (1 to 1000, default 100)"),
    }),
    response: QueueAnswer,
    errors: ["M_NOT_FOUND"],
    handler: async ({ query }) => {
      const agency = query.agency ?? null;
      const summary = await pool.query<SummaryRow>(
        `SELECT a.id AS agency_id, a.name AS agency_name,
                count(e.id) FILTER (WHERE e.state = 'created')::int AS created,
                count(e.id) FILTER (WHERE e.state = 'waiting')::int AS waiting,
                count(e.id) FILTER (WHERE e.state = 'active')::int AS active,
                count(e.id) FILTER (WHERE e.state = 'closed')::int AS closed,
                count(e.id) FILTER (WHERE e.state = 'archived')::int AS archived,
                extract(epoch FROM now() - min(e.waiting_since) FILTER (WHERE e.state = 'waiting'))::float8
                  AS longest_wait_seconds,
                extract(epoch FROM avg(now() - e.waiting_since) FILTER (WHERE e.state = 'waiting'))::float8
                  AS average_wait_seconds
         FROM agencies a LEFT JOIN enquiries e ON e.agency_id = a.id
         WHERE $1::bigint IS NULL OR a.id = $1
         GROUP BY a.id ORDER BY a.id`,
        [agency],
      );
      if (agency !== null && !summary.rows.length) throw new MatrixError("M_NOT_FOUND", `No agency with id ${agency}`);
      const enquiries = await pool.query<EnquiryRow>(
        `SELECT id, agency_id, state, topic_id, language, counsellor_id, created_at, waiting_since,
                CASE WHEN state = 'waiting' THEN extract(epoch FROM now() - waiting_since)::float8 END
                  AS waiting_seconds
         FROM enquiries
         WHERE ($1::bigint IS NULL OR agency_id = $1) AND state = $2
         ORDER BY waiting_since NULLS LAST, id
         LIMIT $3`,
        [agency, query.state, query.limit],
      );
      return {
        agencies: summary.rows.map((r) => ({
          agency_id: Number(r.agency_id),
          agency_name: r.agency_name,
          counts: { created: r.created, waiting: r.waiting, active: r.active, closed: r.closed, archived: r.archived },
          longest_wait_seconds: round(r.longest_wait_seconds),
          average_wait_seconds: round(r.average_wait_seconds),
        })),
        enquiries: enquiries.rows.map((r) => ({
          ...r,
          id: Number(r.id),
          agency_id: Number(r.agency_id),
          created_at: iso(r.created_at) ?? "",
          waiting_since: iso(r.waiting_since),
          waiting_seconds: round(r.waiting_seconds),
        })),
      };
    },
  });
}
