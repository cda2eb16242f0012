import { describe, expect, it } from "vitest";
import { isDatabaseFailure, LOCK_SPACE, pgError } from "./codes.ts";

describe("advisory-lock spaces", () => {
  it("gives every kind of lock a space of its own", () => {
    const spaces = Object.values(LOCK_SPACE);
    expect(new Set(spaces).size).toBe(spaces.length);
  });
});

describe("SQLSTATE codes", () => {
  it("tells a failing database from a failing statement", () => {
    for (const code of ["08006", "40001", "40P01", "53100", "57P01", "58030", "XX000"]) {
      expect(isDatabaseFailure({ code }), code).toBe(true);
    }
    for (const code of ["22P02", "23505", "23503", "42P01"]) expect(isDatabaseFailure({ code }), code).toBe(false);
    expect(isDatabaseFailure(new Error("connection lost"))).toBe(false);
  });

  it("reads the code and constraint of a PostgreSQL error only", () => {
    expect(pgError({ code: "23505", constraint: "agencies_one_fallback" })).toEqual({
      code: "23505",
      constraint: "agencies_one_fallback",
    });
    expect(pgError({ code: "23503" })).toEqual({ code: "23503", constraint: "" });
    expect(pgError(new Error("no code"))).toBeNull();
    expect(pgError("23505")).toBeNull();
  });
});
