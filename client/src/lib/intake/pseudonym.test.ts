import { describe, expect, it } from "vitest";
import { pseudonymProblem } from "./pseudonym.ts";

describe("pseudonymProblem", () => {
  it("accepts plain pseudonyms", () => {
    for (const ok of ["anna", "Wolke_7", "a.b-c", "x12345"]) expect(pseudonymProblem(ok), ok).toBeNull();
  });

  it("names the first rule a pseudonym breaks", () => {
    expect(pseudonymProblem("jürgen")).toBe("pseudonymChars");
    expect(pseudonymProblem("an na")).toBe("pseudonymChars");
    expect(pseudonymProblem("\u212Aarl")).toBe("pseudonymChars");
    expect(pseudonymProblem("ab")).toBe("pseudonymLength");
    expect(pseudonymProblem("a".repeat(31))).toBe("pseudonymLength");
    expect(pseudonymProblem("_anna")).toBe("pseudonymStart");
    expect(pseudonymProblem("12345")).toBe("pseudonymLetter");
    expect(pseudonymProblem("anna0176123")).toBe("pseudonymDigits");
  });

  it("refuses pseudonyms that pass for the service or its staff, anywhere and across separators", () => {
    for (const name of [
      "Connecta",
      "connecta-notices",
      "Beratung_Nord",
      "mein.Admin",
      "a-d-m-i-n",
      "dein-team",
      "Support24",
    ]) {
      expect(pseudonymProblem(name), name).toBe("pseudonymReserved");
    }
    expect(pseudonymProblem("sonnenblume")).toBeNull();
  });
});
