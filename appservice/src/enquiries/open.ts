/**
 * Opening an enquiry at the end of an intake: the enquiry row and the step that creates its
 * room, in the caller's transaction. Idempotent per intake.
 */
import type pg from "pg";
import type { AgeGroup, Language } from "../domain.ts";
import { enqueueStep } from "../steps/steps.ts";

/** What an intake knows when the seeker is registered. */
export interface NewEnquiry {
  intakeId: string;
  seekerId: string;
  agencyId: number;
  topicId: string;
  language: Language;
  ageGroup: AgeGroup;
}

/** Creates the enquiry (state `created`) and its create-room step; returns its id. */
export async function openEnquiry(db: pg.PoolClient, e: NewEnquiry): Promise<number> {
  const existing = await db.query<{ id: string }>("SELECT id FROM enquiries WHERE intake_id = $1", [e.intakeId]);
  if (existing.rows[0]) return Number(existing.rows[0].id);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO enquiries (intake_id, agency_id, topic_id, language, age_group, seeker_id)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [e.intakeId, e.agencyId, e.topicId, e.language, e.ageGroup, e.seekerId],
  );
  const id = Number(rows[0]?.id);
  await enqueueStep(db, id, { kind: "create_room", payload: {} });
  return id;
}
