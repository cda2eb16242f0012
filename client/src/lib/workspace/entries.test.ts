import { describe, expect, it } from "vitest";
import { byNeed, duration, inState, matches, nextUnread, type Entry } from "./entries.ts";

const entry = (enquiryId: number, over: Partial<Entry> = {}): Entry => ({
  enquiryId,
  pseudonym: `seeker-${enquiryId}`,
  waitingSince: null,
  unread: 0,
  lastActivity: null,
  ...over,
});

describe("byNeed", () => {
  it("puts the longest unanswered first, then unread, then the most recently active", () => {
    const list = [
      entry(1, { lastActivity: 10 }),
      entry(2, { waitingSince: 500, unread: 1 }),
      entry(3, { unread: 2, lastActivity: 5 }),
      entry(4, { waitingSince: 100, unread: 1 }),
      entry(5, { lastActivity: 20 }),
    ];
    expect(list.sort(byNeed).map((e) => e.enquiryId)).toEqual([4, 2, 3, 5, 1]);
  });
});

describe("inState and matches", () => {
  it("filters by waiting and unread", () => {
    expect(inState(entry(1, { waitingSince: 1 }), "waiting")).toBe(true);
    expect(inState(entry(1), "waiting")).toBe(false);
    expect(inState(entry(1, { unread: 1 }), "unread")).toBe(true);
    expect(inState(entry(1), "all")).toBe(true);
  });

  it("finds by part of the pseudonym or by the whole number", () => {
    expect(matches(entry(12, { pseudonym: "Sonnenblume" }), "sonnen")).toBe(true);
    expect(matches(entry(12), "12")).toBe(true);
    expect(matches(entry(12), "#12")).toBe(true);
    expect(matches(entry(12), "Anfrage 12")).toBe(true);
    expect(matches(entry(123, { pseudonym: "x" }), "12")).toBe(false);
    expect(matches(entry(12, { pseudonym: null }), "abc")).toBe(false);
    expect(matches(entry(12), " ")).toBe(true);
  });
});

describe("nextUnread", () => {
  it("takes the next unread after the current one, wrapping around, never the current one", () => {
    const list = [entry(1, { unread: 1 }), entry(2), entry(3, { unread: 2 })];
    expect(nextUnread(list, 1)?.enquiryId).toBe(3);
    expect(nextUnread(list, 3)?.enquiryId).toBe(1);
    expect(nextUnread(list, null)?.enquiryId).toBe(1);
    expect(nextUnread([entry(1, { unread: 1 })], 1)).toBeNull();
  });
});

describe("duration", () => {
  it("uses the largest whole unit", () => {
    expect(duration(5_000)).toEqual({ unit: "minutes", n: 1 });
    expect(duration(59 * 60_000)).toEqual({ unit: "minutes", n: 59 });
    expect(duration(3 * 3_600_000)).toEqual({ unit: "hours", n: 3 });
    expect(duration(50 * 3_600_000)).toEqual({ unit: "days", n: 2 });
  });
});
