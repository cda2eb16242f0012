import { describe, expect, it, vi } from "vitest";
import { PENDING_KEY, deliverPending, parsePending, withReport, withoutReport, type ReportStore } from "./media.ts";

const a = { enquiryId: 1, mediaId: "mxc://example.org/a" };
const b = { enquiryId: 2, mediaId: "mxc://example.org/b" };

function memoryStore(initial: unknown): ReportStore & { value: () => unknown } {
  let text: string | null = JSON.stringify(initial);
  return {
    getItem: () => text,
    setItem: (_key, value) => (text = value),
    value: (): unknown => JSON.parse(text ?? "null"),
  };
}

describe("waiting media reports", () => {
  it("reads only well-formed reports and survives garbage", () => {
    expect(parsePending(null)).toEqual([]);
    expect(parsePending("not json")).toEqual([]);
    expect(parsePending('{"enquiryId":1}')).toEqual([]);
    expect(
      parsePending(
        JSON.stringify([a, { enquiryId: "1", mediaId: "mxc://x/y" }, { enquiryId: 3, mediaId: "not-an-mxc-uri" }]),
      ),
    ).toEqual([a]);
  });

  it("adds a report once and removes it", () => {
    expect(withReport(withReport([a], a), b)).toEqual([a, b]);
    expect(withoutReport([a, b], a)).toEqual([b]);
  });

  it("keeps a report whose delivery failed and removes the delivered ones", async () => {
    const store = memoryStore([a, b]);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const sent: string[] = [];
    const left = await deliverPending(store, async (report) => {
      if (report === undefined || report.mediaId === b.mediaId) throw new Error("offline");
      sent.push(report.mediaId);
    });
    expect(sent).toEqual([a.mediaId]);
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
    expect(left).toBe(1);
    expect(store.value()).toEqual([b]);
    expect(PENDING_KEY).toBe("connecta.media-pending");
  });

  it("delivers the rest on the next attempt", async () => {
    const store = memoryStore([b]);
    expect(await deliverPending(store, async () => {})).toBe(0);
    expect(store.value()).toEqual([]);
  });
});
