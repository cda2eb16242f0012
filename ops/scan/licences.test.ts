/**
 * docs/licences.md lists the licence of every dependency as it is now, and the reviewed
 * exceptions are applied exactly: one that no longer matches or is not needed is reported.
 * The current-list test needs the Synapse venv and the Go programs ops/connecta builds
 * (CONNECTA_SYNAPSE_PYTHON, CONNECTA_LIVEKIT_SERVER, CONNECTA_HELM, CONNECTA_GITLEAKS); without
 * them it fails and says so.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../stack/config.ts";
import { applyExceptions, collectLicences, inputsFromEnv, renderLicences, type LicenceRow } from "./licences.ts";

const row = (name: string, licence: string, ok: boolean): LicenceRow => ({
  ecosystem: "npm",
  name,
  version: "1.0.0",
  licence,
  source: "package.json",
  usedBy: "runtime",
  ok,
  reason: ok ? "" : "unknown licence",
});

describe("the licence list", () => {
  it("is current in docs/licences.md, with every licence allowed", () => {
    const inputs = inputsFromEnv();
    const { rows, problems } = collectLicences(inputs);
    expect(problems).toEqual([]);
    expect(readFileSync(join(ROOT, "docs/licences.md"), "utf8"), "run `node ops/scan/cli.ts licences --write`").toBe(
      renderLicences(rows, inputs),
    );
  });

  it("applies a reviewed exception only where the check cannot decide, and only to that version", () => {
    const rows = [row("old-bsd", "unknown", false), row("fine", "MIT", true)];
    const result = applyExceptions(rows, [
      { package: "npm:old-bsd@1.0.0", licence: "BSD-3-Clause", reason: "LICENSE is BSD-3-Clause" },
      { package: "npm:fine@1.0.0", licence: "MIT", reason: "not needed" },
      { package: "npm:gone@2.0.0", licence: "MIT", reason: "removed long ago" },
    ]);
    expect(result.rows[0]).toMatchObject({ licence: "BSD-3-Clause", ok: true });
    expect(result.problems).toEqual([
      "npm:fine@1.0.0: the exception is not needed (found MIT)",
      "npm:gone@2.0.0: exception for a package that is not there",
    ]);
  });

  it("does not let an exception name a licence off the allow-list", () => {
    const result = applyExceptions(
      [row("x", "unknown", false)],
      [{ package: "npm:x@1.0.0", licence: "SSPL-1.0", reason: "" }],
    );
    expect(result.rows[0]?.ok).toBe(false);
    expect(result.problems[0]).toMatch(/SSPL-1.0 is not on the allow-list/);
  });
});
