import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { userId, workflowHarness } from "../../test/harness.ts";
import { eraseSeeker, personalData } from "./privacy.ts";
import { PURGE_STEPS } from "./sweeper.ts";

let h: Awaited<ReturnType<typeof workflowHarness>>;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(() => h.drop());

const pending = async (enquiryId: number | null) =>
  (
    await h.pool.query<{ kind: string; payload: Record<string, unknown> }>(
      "SELECT kind, payload FROM matrix_steps WHERE enquiry_id IS NOT DISTINCT FROM $1 AND done_at IS NULL ORDER BY id",
      [enquiryId],
    )
  ).rows;

describe("a seeker's erasure", () => {
  it("purges each of their conversations, telling its counsellor first, and then nothing more", async () => {
    const e = await h.enquiry({ counsellors: 1 });
    const counsellor = e.counsellors[0] as string;
    await h.workflow.claim(counsellor, e.enquiryId);
    expect(await eraseSeeker(h.pool, e.seeker, "operator")).toBe(1);
    expect(await pending(e.enquiryId)).toEqual([
      { kind: "erasure_notice", payload: { user_id: counsellor } },
      ...PURGE_STEPS,
    ]);
    // Nobody writes meanwhile; a repeated request starts nothing new.
    expect(await h.row(e.enquiryId)).toEqual({ state: "archived", counsellor_id: null });
    expect(await eraseSeeker(h.pool, e.seeker, "operator")).toBe(0);
    expect(await pending(e.enquiryId)).toHaveLength(PURGE_STEPS.length + 1);
  });

  it("erases the account of a seeker without any conversation", async () => {
    const seeker = userId("lonely");
    expect(await eraseSeeker(h.pool, seeker, "operator")).toBe(0);
    expect((await pending(null)).filter((s) => s.payload.user_id === seeker)).toEqual([
      { kind: "erase_user", payload: { user_id: seeker } },
    ]);
  });
});

describe("a seeker's data", () => {
  it("lists their conversations with when each will be deleted, and nobody else's", async () => {
    const mine = await h.enquiry({ counsellors: 1 });
    await h.enquiry({ counsellors: 1 });
    const data = await personalData(h.pool, mine.seeker, 14);
    expect(data.user_id).toBe(mine.seeker);
    expect(data.enquiries.map((x) => x.enquiry_id)).toEqual([mine.enquiryId]);
    const [only] = data.enquiries;
    expect(only).toMatchObject({ room_id: mine.roomId, state: "waiting", topic: { id: mine.topic } });
    // Waiting: 180 days after the last event, by default.
    const days = (Date.parse(only?.deletion_at ?? "") - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(179);
    expect(days).toBeLessThan(181);
  });
});
