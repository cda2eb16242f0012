/**
 * Which agency an enquiry goes to, from the seeker's topic and (optional) postcode.
 *
 * Rules, in order:
 * 1. The topic must exist; an unknown topic matches nothing (`null`).
 * 2. Among the agencies offering the topic, the one with a postcode range containing the
 *    postcode wins; when several do, the narrowest range wins (the most specific agency), and
 *    ties go to the lowest agency id.
 * 3. Otherwise (no postcode given, or no agency covers it) the fallback agency takes the
 *    enquiry, whatever the topic: nobody who asks for help is turned away because their topic or
 *    region is not covered. With no fallback agency configured, nothing matches (`null`).
 *
 * `coverage` answers the same question for the intake's first step without choosing an agency,
 * so that the seeker learns before writing anything whether someone nearby, the fallback
 * agency or nobody would take their enquiry.
 */
import type pg from "pg";

/** Anything that runs a query: the pool or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** The agency an enquiry goes to. */
export interface AgencyMatch {
  agencyId: number;
}

const MATCH = `
  SELECT m.agency_id
  FROM topics t
  CROSS JOIN LATERAL (
    SELECT r.agency_id, 0 AS rank, r.last_postcode::int - r.first_postcode::int AS width
    FROM agency_postcode_ranges r
    JOIN agency_topics at ON at.agency_id = r.agency_id AND at.topic_id = t.id
    WHERE $2::text IS NOT NULL AND $2::text BETWEEN r.first_postcode::text AND r.last_postcode::text
    UNION ALL
    SELECT a.id, 1, 0 FROM agencies a WHERE a.is_fallback
  ) m
  WHERE t.id = $1
  ORDER BY m.rank, m.width, m.agency_id
  LIMIT 1`;

/**
 * Finds the agency for an enquiry about `topicId` from `postcode` (five digits, or null when the
 * seeker gave none) by the rules above. Returns null for an unknown topic, or when nothing
 * covers the postcode and there is no fallback agency. Throws a RangeError for a postcode that
 * is not five digits (the caller validates input first).
 */
export async function findAgency(db: Queryable, topicId: string, postcode: string | null): Promise<AgencyMatch | null> {
  if (postcode !== null && !/^[0-9]{5}$/.test(postcode)) throw new RangeError("postcode must be five digits");
  const { rows } = await db.query<{ agency_id: string }>(MATCH, [topicId, postcode]);
  return rows[0] ? { agencyId: Number(rows[0].agency_id) } : null;
}

/**
 * Who would take an enquiry: `local` an agency offering the topic for this postcode, `general`
 * the fallback agency (no postcode given, or none covers it), `none` nobody.
 */
export type Coverage = "local" | "general" | "none";

const COVERAGE = `
  SELECT CASE
    WHEN EXISTS (
      SELECT 1 FROM agency_postcode_ranges r
      JOIN agency_topics at ON at.agency_id = r.agency_id AND at.topic_id = t.id
      WHERE $2::text IS NOT NULL AND $2::text BETWEEN r.first_postcode::text AND r.last_postcode::text
    ) THEN 'local'
    WHEN EXISTS (SELECT 1 FROM agencies a WHERE a.is_fallback) THEN 'general'
    ELSE 'none'
  END AS coverage
  FROM topics t
  WHERE t.id = $1`;

/**
 * How `topicId` is covered for `postcode` (five digits, or null) by the rules of
 * {@link findAgency}; null for an unknown topic. Throws a RangeError for a postcode that is not
 * five digits (the caller validates input first).
 */
export async function coverage(db: Queryable, topicId: string, postcode: string | null): Promise<Coverage | null> {
  if (postcode !== null && !/^[0-9]{5}$/.test(postcode)) throw new RangeError("postcode must be five digits");
  const { rows } = await db.query<{ coverage: Coverage }>(COVERAGE, [topicId, postcode]);
  return rows[0]?.coverage ?? null;
}
