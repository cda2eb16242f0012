import { describe, expect, it } from "vitest";
import { formatWaiting, texts } from "./texts.ts";

describe("formatWaiting", () => {
  it.each([
    [0, "weniger als einer Minute", "less than a minute"],
    [59, "weniger als einer Minute", "less than a minute"],
    [60, "1 Minute", "1 minute"],
    [150, "2 Minuten", "2 minutes"],
    [3_600, "1 Stunde", "1 hour"],
    [47 * 3_600, "47 Stunden", "47 hours"],
    [48 * 3_600, "2 Tagen", "2 days"],
    [86_400 * 9, "9 Tagen", "9 days"],
  ])("says %i seconds", (seconds, de, en) => {
    expect(formatWaiting(seconds, "de")).toBe(de);
    expect(formatWaiting(seconds, "en")).toBe(en);
  });
});

describe("texts", () => {
  it("speaks German unless the counsellor chose English", () => {
    expect(texts("de").taken(3)).toContain("Anfrage #3");
    expect(texts("fr").taken(3)).toContain("Anfrage #3");
    expect(texts("en").taken(3)).toContain("Enquiry #3");
  });

  it("lists the queue with number, topic and waiting time", () => {
    const lines = [
      { enquiryId: 4, topic: "Sucht", waitingSeconds: 300 },
      { enquiryId: 9, topic: "Gewalt", waitingSeconds: 7_200 },
    ];
    expect(texts("de").queue(lines, 20)).toBe(
      "Wartende Anfragen: 2\n#4 · Sucht · wartet seit 5 Minuten\n#9 · Gewalt · wartet seit 2 Stunden\n" +
        "Zum Übernehmen schreiben Sie zum Beispiel: take 4",
    );
    expect(texts("en").queue(lines, 2)).toMatch(
      /^The 2 enquiries waiting longest:\n#4 · Sucht · waiting for 5 minutes/,
    );
    expect(texts("en").queue([], 20)).toBe("No enquiry is waiting right now.");
  });

  it("names every command in the help", () => {
    for (const language of ["de", "en"]) {
      for (const command of ["queue", "take", "handover", "close", "help"]) {
        expect(texts(language).help).toContain(command);
      }
    }
  });
});
