import { describe, expect, it } from "vitest";
import { recoveryFileName, recoveryFileText } from "./recovery.ts";

describe("the recovery key file", () => {
  it("is named like a note of the day, by the local date", () => {
    expect(recoveryFileName(new Date(2026, 11, 2, 23, 59), "de")).toBe("notiz-2026-12-02.txt");
    expect(recoveryFileName(new Date(2027, 0, 9, 0, 1), "en")).toBe("note-2027-01-09.txt");
  });

  it("has a name that gives away neither the service nor what the file is", () => {
    for (const language of ["de", "en"] as const) {
      expect(recoveryFileName(new Date(), language)).not.toMatch(/connecta|recovery|wiederherstell|schl|beratung|key/i);
    }
  });

  it("holds the key on a line of its own", () => {
    expect(recoveryFileText("Bitte sicher aufbewahren:", "EsTc abcd").split("\n")).toEqual([
      "Bitte sicher aufbewahren:",
      "",
      "EsTc abcd",
      "",
    ]);
  });
});
