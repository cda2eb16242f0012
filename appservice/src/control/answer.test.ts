import type pg from "pg";
import { describe, expect, it } from "vitest";
import { refuse, type Refusal } from "../enquiries/refusal.ts";
import type { Workflow } from "../enquiries/workflow.ts";
import { answer } from "./answer.ts";
import type { Command } from "./commands.ts";

/** A workflow whose every action is refused with `refusal`. */
function refusingWorkflow(refusal: Refusal): Workflow {
  const no = () => Promise.reject(refuse(refusal));
  return { queue: no, mine: no, claim: no, handover: no, close: no, reopen: no, archiveExpired: no };
}

const say = (refusal: Refusal, command: Command, language = "de") =>
  answer({ workflow: refusingWorkflow(refusal), pool: {} as pg.Pool, reopenWindowDays: 30 }, "@a:s", language, command);

const take: Command = { kind: "take", enquiryId: 12 };
const close: Command = { kind: "close", enquiryId: 12 };
const handover: Command = { kind: "handover", enquiryId: 12, counsellorId: "@b:s" };

describe("the control room's answer to a refusal", () => {
  it("says what happened in the counsellor's words", async () => {
    expect(await say({ reason: "no_such_enquiry" }, take)).toMatch(/^Ich finde keine Anfrage #12/);
    expect(await say({ reason: "already_taken" }, take)).toMatch(/^Anfrage #12 hat schon eine Kollegin/);
    expect(await say({ reason: "wrong_state", state: "closed", wanted: "waiting" }, take)).toMatch(/wartet nicht/);
    expect(await say({ reason: "wrong_state", state: "closed", wanted: "active" }, close)).toMatch(/nicht in Beratung/);
    expect(await say({ reason: "not_assigned", action: "close" }, close)).toMatch(/abschließen kann nur/);
    expect(await say({ reason: "not_assigned", action: "handover" }, handover, "en")).toMatch(/^Only the counsellor/);
    expect(await say({ reason: "not_a_colleague", userId: "@b:s" }, handover)).toMatch(/^@b:s berät nicht/);
    expect(await say({ reason: "not_a_counsellor" }, take)).toMatch(/zu keiner Beratungsstelle/);
    expect(await say({ reason: "not_a_counsellor" }, { kind: "queue" })).toMatch(/zu keiner Beratungsstelle/);
  });

  it("leaves pending rooms to the next attempt instead of answering", async () => {
    await expect(say({ reason: "rooms_pending" }, take)).rejects.toThrow("rooms_pending");
  });
});
