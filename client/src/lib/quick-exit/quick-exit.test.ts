import { describe, expect, it } from "vitest";
import { createEscapeSequence } from "./quick-exit.ts";

describe("createEscapeSequence", () => {
  it("fires on the second Escape within a second", () => {
    const pressed = createEscapeSequence();
    expect(pressed("Escape", 1000)).toBe(false);
    expect(pressed("Escape", 1900)).toBe(true);
  });

  it("does not fire when the presses are too far apart", () => {
    const pressed = createEscapeSequence();
    expect(pressed("Escape", 0)).toBe(false);
    expect(pressed("Escape", 1001)).toBe(false);
    // ...but that late press starts a new sequence.
    expect(pressed("Escape", 1500)).toBe(true);
  });

  it("starts over after another key", () => {
    const pressed = createEscapeSequence();
    expect(pressed("Escape", 0)).toBe(false);
    expect(pressed("a", 100)).toBe(false);
    expect(pressed("Escape", 200)).toBe(false);
    expect(pressed("Escape", 300)).toBe(true);
  });

  it("starts over after firing", () => {
    const pressed = createEscapeSequence();
    pressed("Escape", 0);
    expect(pressed("Escape", 100)).toBe(true);
    expect(pressed("Escape", 200)).toBe(false);
    expect(pressed("Escape", 300)).toBe(true);
  });

  it("ignores a single Escape and other keys", () => {
    const pressed = createEscapeSequence();
    expect(pressed("Tab", 0)).toBe(false);
    expect(pressed("Enter", 10)).toBe(false);
    expect(pressed("Escape", 20)).toBe(false);
  });

  it("takes other counts and windows", () => {
    const pressed = createEscapeSequence(3, 500);
    expect(pressed("Escape", 0)).toBe(false);
    expect(pressed("Escape", 200)).toBe(false);
    expect(pressed("Escape", 400)).toBe(true);
    expect(pressed("Escape", 1000)).toBe(false);
    expect(pressed("Escape", 1200)).toBe(false);
    expect(pressed("Escape", 1600)).toBe(false);
  });
});
