import { describe, expect, it } from "vitest";
import { cleanText, findBadText, textProblem } from "./text.ts";

const LONE_HIGH = "\ud800";
const LONE_LOW = "\udc00";

describe("textProblem", () => {
  it("accepts plain, accented and emoji text and Matrix ids", () => {
    for (const value of ["", "Ich bin bis Montag weg.", "Grüße 👋🏽", "@anna:example.org", "!room:example.org"]) {
      expect(textProblem(value, "text"), value).toBeNull();
      expect(textProblem(value, "id"), value).toBeNull();
    }
  });

  it("allows tab, line feed and carriage return in free text only", () => {
    for (const value of ["a\tb", "line\nline", "line\r\nline"]) {
      expect(textProblem(value, "text"), JSON.stringify(value)).toBeNull();
      expect(textProblem(value, "id"), JSON.stringify(value)).toMatch(/control characters/);
    }
  });

  it("refuses U+0000, the other C0 controls, DEL and C1 controls in both kinds", () => {
    for (const char of [
      "\u0000",
      "\u0001",
      "\u0008",
      "\u000b",
      "\u000c",
      "\u001b",
      "\u001f",
      "\u007f",
      "\u0085",
      "\u009f",
    ]) {
      expect(textProblem(`a${char}b`, "text"), JSON.stringify(char)).toMatch(/control characters/);
      expect(textProblem(char, "id"), JSON.stringify(char)).toMatch(/control characters/);
    }
  });

  it("refuses lone surrogates but not surrogate pairs", () => {
    for (const value of [LONE_HIGH, LONE_LOW, `x${LONE_HIGH}y`, `${LONE_LOW}${LONE_HIGH}`, "😀".slice(0, 1)]) {
      expect(textProblem(value, "text"), JSON.stringify(value)).toMatch(/lone surrogate/);
      expect(textProblem(value, "id"), JSON.stringify(value)).toMatch(/lone surrogate/);
    }
    expect(textProblem("\ud83d\ude00", "text")).toBeNull();
  });
});

describe("cleanText", () => {
  it("replaces what textProblem refuses with U+FFFD and keeps the rest", () => {
    expect(cleanText("a\u0000b\tc\n", "text")).toBe("a\ufffdb\tc\n");
    expect(cleanText("a\u0000b\tc\n", "id")).toBe("a\ufffdb\ufffdc\ufffd");
    expect(cleanText(`x${LONE_HIGH}😀`, "text")).toBe("x\ufffd😀");
    for (const kind of ["text", "id"] as const) {
      expect(textProblem(cleanText(`\u0000${LONE_LOW}\u0085\r`, kind), kind)).toBeNull();
    }
  });
});

describe("findBadText", () => {
  it("finds nothing in clean JSON and in values that are no strings", () => {
    expect(findBadText({ a: "x", b: [1, true, null, { c: "line\nline" }] }, "text")).toBeNull();
    expect(findBadText(undefined, "text")).toBeNull();
    expect(findBadText(42, "id")).toBeNull();
  });

  it("names the path of a bad string in nested objects and arrays", () => {
    expect(findBadText({ counsellor_id: "@a:b\u0000" }, "text")).toEqual({
      path: "counsellor_id",
      problem: "must not contain control characters",
    });
    expect(findBadText({ a: [{ b: "ok" }, { b: `x${LONE_HIGH}` }] }, "text")).toMatchObject({ path: "a.1.b" });
    expect(findBadText(["\u0007"], "text")).toMatchObject({ path: "0" });
    expect(findBadText("\u0000", "id")).toMatchObject({ path: "" });
  });

  it("checks object keys too, and never repeats a bad key raw", () => {
    const bad = findBadText({ ok: { "k\u0000": 1 } }, "text");
    expect(bad?.path).toBe("ok.k\ufffd (key)");
  });

  it("walks a deeply nested value without overflowing the stack", () => {
    let deep: unknown = "\u0000";
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findBadText(deep, "text")?.problem).toMatch(/control characters/);
  });
});
