/** The public topic list the intake form offers: `GET /api/v1/topics`. */
import { describe, expect, inject, it } from "vitest";
import { seedIntakeAgency } from "../support/seeker.ts";
import { connectaDb, createTopic } from "../support/workflow.ts";

const stack = inject("stack");

describe("GET /api/v1/topics", () => {
  it("lists the topics an agency offers, with both names, without authentication", async () => {
    const agency = await seedIntakeAgency(stack, 0);
    const db = await connectaDb(stack);
    const orphan = await createTopic(db, "Nobody offers this");
    await db.end();
    for (const base of [stack.appserviceUrl, stack.clientUrl]) {
      const res = await fetch(`${base}/api/v1/topics`);
      expect(res.status).toBe(200);
      const { topics } = (await res.json()) as { topics: Record<string, unknown>[] };
      const topic = topics.find((t) => t.id === agency.topic);
      expect(topic).toEqual({
        id: agency.topic,
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
        name_de: expect.stringMatching(/^Testthema /),
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
        name_en: expect.stringMatching(/^Test topic /),
      });
      expect(topics.some((t) => t.id === orphan)).toBe(false);
    }
  });

  it("refuses query parameters", async () => {
    const res = await fetch(`${stack.appserviceUrl}/api/v1/topics?x=1`);
    expect(res.status).toBe(400);
  });
});
