import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { inLanguage, telHref } from "../site.ts";
import { loadSite, NO_SITE, parseSite } from "./site.ts";

const sample = {
  imprint: { de: "Beratungsstelle Muster e. V.\nMusterstraße 1\n\nVertreten durch …", en: "Counselling Muster" },
  crisis: [
    {
      name: { de: "Telefonseelsorge", en: "Telephone counselling" },
      phone: "0800 111 0 111",
      hours: { de: "rund um die Uhr" },
    },
  ],
};

describe("the site file", () => {
  it("gives the operator's texts and crisis lines, and placeholders for what it leaves out", () => {
    const site = parseSite(JSON.stringify(sample));
    expect(site.privacy).toBeNull();
    expect(site.imprint?.de).toContain("Musterstraße 1\n\nVertreten");
    expect(site.crisis).toEqual([
      {
        name: { de: "Telefonseelsorge", en: "Telephone counselling" },
        phone: "0800 111 0 111",
        hours: { de: "rund um die Uhr" },
      },
    ]);
    expect(inLanguage(site.crisis[0]!.hours!, "en")).toBe("rund um die Uhr");
    expect(telHref("0800 111 0 111")).toBe("tel:08001110111");
  });

  it.each([
    ["{", "not JSON"],
    [JSON.stringify({ impressum: { de: "x" } }), "impressum: unknown field"],
    [JSON.stringify({ imprint: "x" }), 'imprint: expected {"de"'],
    [JSON.stringify({ imprint: { de: "" } }), "imprint.de: expected a text"],
    [JSON.stringify({ imprint: { de: "a\u0000b" } }), "imprint.de: contains control characters"],
    [JSON.stringify({ imprint: { de: "a\ud800b" } }), "imprint.de: contains control characters"],
    [JSON.stringify({ imprint: { de: "x", fr: "y" } }), "imprint.fr: unknown language"],
    [JSON.stringify({ privacy: { de: "x".repeat(50_001) } }), "privacy.de: longer than 50000"],
    [JSON.stringify({ crisis: [{ name: { de: "A" }, phone: "javascript:alert(1)" }] }), "crisis[0].phone: digits"],
    [
      JSON.stringify({ crisis: Array(6).fill({ name: { de: "A" }, phone: "112" }) }),
      "crisis: expected a list of up to 5",
    ],
  ])("refuses %s, naming the field", (json, message) => {
    expect(() => parseSite(json)).toThrow(message);
  });

  it("has a sample for operators (ops/site.sample.json) that it accepts", () => {
    const site = loadSite(fileURLToPath(new URL("../../../../ops/site.sample.json", import.meta.url)));
    expect(site.imprint).not.toBeNull();
    expect(site.privacy).not.toBeNull();
    expect(site.crisis.map((line) => line.phone)).toEqual(["0800 111 0 111", "116 016"]);
  });

  it("is optional, and a file that cannot be read stops the start naming the variable", () => {
    expect(loadSite(undefined)).toBe(NO_SITE);
    expect(() => loadSite("/nonexistent/site.json")).toThrow(
      "CONNECTA_SITE_FILE /nonexistent/site.json: cannot read (ENOENT)",
    );
    const dir = mkdtempSync(join(tmpdir(), "site-"));
    writeFileSync(join(dir, "site.json"), JSON.stringify({ imprint: 1 }));
    expect(() => loadSite(join(dir, "site.json"))).toThrow(
      `CONNECTA_SITE_FILE ${join(dir, "site.json")}: imprint: expected`,
    );
  });
});
