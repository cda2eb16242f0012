import { describe, expect, it } from "vitest";
import { errorReason, eventProblem, MAX_ID_LENGTH } from "./transactions.ts";

const good = { type: "m.room.message", event_id: "$e", room_id: "!r:example.org", sender: "@a:example.org" };

describe("eventProblem", () => {
  it("accepts the ids Synapse sends, with or without a state key", () => {
    expect(eventProblem(good)).toBeNull();
    expect(eventProblem({ ...good, type: "m.room.member", state_key: "" })).toBeNull();
    expect(eventProblem({ type: "m.typing", room_id: "!r:example.org" })).toBeNull();
  });

  it("refuses control characters and lone surrogates in every id field", () => {
    for (const field of ["type", "event_id", "room_id", "sender", "state_key"] as const) {
      expect(eventProblem({ ...good, [field]: "a\u0000b" }), field).toBe(
        `${field} must not contain control characters`,
      );
      expect(eventProblem({ ...good, [field]: "a\ud800" }), field).toMatch(new RegExp(`^${field} .*lone surrogate`));
      expect(eventProblem({ ...good, [field]: "a\nb" }), field).toMatch(/control characters/);
    }
  });

  it("refuses ids that are no strings or longer than Matrix allows", () => {
    expect(eventProblem({ ...good, room_id: 12 } as unknown as typeof good)).toBe("room_id must be a string");
    expect(eventProblem({ ...good, state_key: { a: 1 } } as unknown as typeof good)).toBe("state_key must be a string");
    expect(eventProblem({ ...good, sender: "x".repeat(MAX_ID_LENGTH + 1) })).toMatch(/longer than 255/);
  });

  it("refuses entries without a type, which are no events", () => {
    expect(eventProblem({} as unknown as typeof good)).toBe("not an event: no type");
    expect(eventProblem({ ...good, type: 5 } as unknown as typeof good)).toBe("not an event: no type");
  });
});

describe("errorReason", () => {
  it("keeps the SQLSTATE and the message but leaves out quoted input", () => {
    const pgError = Object.assign(new Error('invalid input syntax for type bigint: "secret words"'), { code: "22P02" });
    expect(errorReason(pgError)).toBe("22P02 Error: invalid input syntax for type bigint: …");
    let parse: unknown;
    try {
      JSON.parse("{secret");
    } catch (err) {
      parse = err;
    }
    expect(errorReason(parse)).not.toMatch(/secret/);
    expect(errorReason(new Error('unclosed "secret and more'))).toBe("Error: unclosed …");
  });

  it("is short and holds no control characters", () => {
    expect(errorReason(new Error("x".repeat(1000))).length).toBeLessThanOrEqual(200);
    expect(errorReason(new TypeError("a\u0000b"))).toBe("TypeError: a\ufffdb");
    expect(errorReason("thrown string")).toBe("a non-error was thrown");
  });
});
