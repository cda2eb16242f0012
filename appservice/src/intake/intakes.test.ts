import { describe, expect, it } from "vitest";
import { intakeIdOf } from "./intakes.ts";

describe("intakeIdOf", () => {
  const challenge = "6f1c2a4e-8d3b-4c7a-9e2f-1a2b3c4d5e6f";

  it("derives the same UUID (version 8) from a challenge every time, in any case", () => {
    const id = intakeIdOf(challenge);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(intakeIdOf(challenge)).toBe(id);
    expect(intakeIdOf(challenge.toUpperCase())).toBe(id);
  });

  it("differs from the challenge and between challenges", () => {
    expect(intakeIdOf(challenge)).not.toBe(challenge);
    expect(intakeIdOf("0b6f1c2a-8d3b-4c7a-9e2f-1a2b3c4d5e6f")).not.toBe(intakeIdOf(challenge));
  });
});
