/**
 * Runs a control-room command with the counselling workflow and says how it went. The workflow's
 * refusals become kind answers; anything else is thrown, so the worker tries again later.
 */
import type pg from "pg";
import { WorkflowRefusal, type Refusal } from "../enquiries/refusal.ts";
import type { Workflow } from "../enquiries/workflow.ts";
import type { Command, CommandWithArgs } from "./commands.ts";
import { texts, type Texts } from "./texts.ts";

/** How many enquiries `queue` lists at most. */
export const QUEUE_LIMIT = 20;

/** What answering needs. */
export interface AnswerDeps {
  workflow: Workflow;
  pool: pg.Pool;
  reopenWindowDays: number;
}

async function topicNames(pool: pg.Pool, ids: string[], language: string): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ id: string; name: string }>(
    `SELECT id, CASE WHEN $2 = 'en' THEN name_en ELSE name_de END AS name FROM topics WHERE id = ANY($1::text[])`,
    [ids, language],
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** A command about one enquiry. */
type EnquiryCommand = Extract<Command, { kind: CommandWithArgs }>;

/** What the control room says to a refusal; null for the ones it cannot answer now. */
function refusal(t: Texts, command: EnquiryCommand, r: Refusal): string | null {
  const id = command.enquiryId;
  switch (r.reason) {
    case "no_such_enquiry":
      return t.notFound(id);
    case "already_taken":
      return t.alreadyTaken(id);
    case "wrong_state":
      return t.wrongState(command.kind, id);
    case "not_a_counsellor":
    case "deactivated":
      return t.noAgency;
    case "not_assigned":
      return t.notYours(command.kind, id);
    case "not_a_colleague":
      return t.notAColleague(r.userId);
    // rooms_pending: the room is still being updated: the worker asks again later, and then it
    // is done. still_assigned: not a command's refusal (agency changes are the operators').
    case "rooms_pending":
    case "still_assigned":
      return null;
  }
}

/** Runs `command` for `counsellorId` and returns the answer in `language`. */
export async function answer(
  deps: AnswerDeps,
  counsellorId: string,
  language: string,
  command: Command,
): Promise<string> {
  const t = texts(language);
  const { workflow } = deps;
  switch (command.kind) {
    case "help":
      return t.help;
    case "unknown":
      return t.unknown(command.word);
    case "usage":
      return t.usage(command.command);
    case "queue":
      try {
        const { enquiries } = await workflow.queue(counsellorId, { limit: QUEUE_LIMIT });
        const names = await topicNames(deps.pool, [...new Set(enquiries.map((e) => e.topic))], language);
        const lines = enquiries.map((e) => ({
          enquiryId: e.enquiry_id,
          topic: names.get(e.topic) ?? e.topic,
          waitingSeconds: e.waiting_seconds,
        }));
        return t.queue(lines, QUEUE_LIMIT);
      } catch (err) {
        if (err instanceof WorkflowRefusal && err.refusal.reason === "not_a_counsellor") return t.noAgency;
        throw err;
      }
  }
  try {
    switch (command.kind) {
      case "take":
        await workflow.claim(counsellorId, command.enquiryId);
        return t.taken(command.enquiryId);
      case "handover":
        await workflow.handover(counsellorId, command.enquiryId, command.counsellorId);
        return t.handedOver(command.enquiryId, command.counsellorId);
      case "close":
        await workflow.close(counsellorId, command.enquiryId);
        return t.closed(command.enquiryId, deps.reopenWindowDays);
    }
  } catch (err) {
    const said = err instanceof WorkflowRefusal ? refusal(t, command, err.refusal) : null;
    if (said === null) throw err;
    return said;
  }
}
