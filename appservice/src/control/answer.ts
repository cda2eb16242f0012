/**
 * Runs a control-room command with the counselling workflow and says how it went. The workflow's
 * refusals (MatrixError codes) become kind answers; anything else is thrown, so the worker tries
 * again later.
 */
import type pg from "pg";
import type { Workflow } from "../enquiries/workflow.ts";
import { MatrixError } from "../http/errors.ts";
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

function refusal(t: Texts, command: EnquiryCommand, err: MatrixError): string {
  const id = command.enquiryId;
  switch (err.errcode) {
    case "M_NOT_FOUND":
      return t.notFound(id);
    case "CONNECTA_ALREADY_TAKEN":
      return t.alreadyTaken(id);
    case "CONNECTA_WRONG_STATE":
      return t.wrongState(command.kind, id);
    case "M_FORBIDDEN":
      // A claim is refused with M_FORBIDDEN only to callers without an agency.
      return command.kind === "take" ? t.noAgency : t.notYours(command.kind, id);
    case "M_INVALID_PARAM":
      if (command.kind === "handover") return t.notAColleague(command.counsellorId);
      throw err;
    default:
      throw err;
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
        if (err instanceof MatrixError && err.errcode === "M_FORBIDDEN") return t.noAgency;
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
    if (err instanceof MatrixError) return refusal(t, command, err);
    throw err;
  }
}
