/**
 * Every case of the attack suite is listed in docs/threat-model.md next to the threat it covers,
 * and every case id the threat model names exists (issue 16, acceptance 2).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../ops/stack/config.ts";

const ID = /A-(?:OUT|SEEK|COA|MAL|REM|OPS|BODY|FWD|FLOOD)-\d{2}/g;

/** The case ids in the test names of the attack suite's files, with their file. */
function caseIds(): Map<string, string> {
  const dir = join(ROOT, "tests", "attack");
  const ids = new Map<string, string>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".test.ts"))) {
    for (const match of readFileSync(join(dir, file), "utf8").matchAll(/\bit\(\s*"(A-[A-Z]+-\d{2}):/g)) {
      const id = match[1] as string;
      expect(ids.get(id), `${id} is used twice`).toBeUndefined();
      ids.set(id, file);
    }
  }
  return ids;
}

describe("the threat model", () => {
  it("lists every attack case, and names no case that does not exist", () => {
    const cases = caseIds();
    expect(cases.size).toBeGreaterThanOrEqual(60);
    const doc = readFileSync(join(ROOT, "docs", "threat-model.md"), "utf8");
    const named = new Set(doc.match(ID) ?? []);
    expect([...cases.keys()].filter((id) => !named.has(id))).toEqual([]);
    expect([...named].filter((id) => !cases.has(id))).toEqual([]);
  });
});
