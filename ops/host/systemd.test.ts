/**
 * Acceptance 6 of the operations issue: every systemd unit of a host passes
 * `systemd-analyze verify` and scores "OK" or better in `systemd-analyze security` (overall
 * exposure 4.9 or less; lower is better). The units are the ones install-host writes into a
 * temporary root (so their ExecStart names the binaries ops/connecta installed on this machine,
 * which verify checks), plus the backup units of ops/backup/systemd/ as committed.
 *
 * Both run offline on the unit files (systemd 252: `security --offline=true`); no unit is
 * loaded into the machine's systemd.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../stack/config.ts";
import { hostOptions } from "./host-test-options.ts";
import { HOST_PATHS, installHost } from "./install-host.ts";

const root = mkdtempSync(join(tmpdir(), "connecta-units-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
installHost(hostOptions(root));

const unitDirs = [join(root, HOST_PATHS.units), join(ROOT, "ops", "backup", "systemd")];
const units = unitDirs
  .filter((dir) => existsSync(dir))
  .flatMap((dir) =>
    readdirSync(dir)
      .filter((name) => /\.(service|timer|target|socket)$/.test(name))
      .map((name) => join(dir, name)),
  );
const services = units.filter((path) => path.endsWith(".service"));

function analyze(args: string[]) {
  const result = spawnSync("systemd-analyze", args, { encoding: "utf8" });
  if (result.error) throw result.error;
  return result;
}

/** The overall exposure `systemd-analyze security` gives a unit file, and its word for it. */
function exposure(output: string, unit: string): { score: number; level: string } {
  const match = new RegExp(`Overall exposure level for ${unit.replace(/\./g, "\\.")}: (\\d+\\.\\d) (\\w+)`).exec(
    output,
  );
  if (!match) throw new Error(`no overall exposure level for ${unit} in:\n${output}`);
  return { score: Number(match[1]), level: match[2] ?? "" };
}

describe("systemd units", () => {
  it("are the host's six and any backup units", () => {
    expect(units.map((u) => basename(u))).toEqual(
      expect.arrayContaining([
        "connecta-postgresql.service",
        "connecta-synapse.service",
        "connecta-livekit.service",
        "connecta-appservice.service",
        "connecta-client.service",
        "connecta.target",
      ]),
    );
  });

  it("pass systemd-analyze verify, without a warning", () => {
    // All at once, so that units naming each other (Requires=, a timer's service) find them.
    const result = analyze(["verify", "--man=no", "--generators=no", ...units]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.each(services.map((path) => [basename(path), path]))(
    "%s scores OK or better in systemd-analyze security",
    (name, path) => {
      const result = analyze(["security", "--offline=true", "--no-pager", path]);
      const { score, level } = exposure(result.stdout, name);
      expect(result.status, result.stderr).toBe(0);
      expect(score, result.stdout).toBeLessThanOrEqual(4.9);
      expect(["PERFECT", "SAFE", "OK"]).toContain(level);
    },
  );
});

describe("the verify step", () => {
  it("fails a unit whose program does not exist", () => {
    const result = analyze([
      "verify",
      "--man=no",
      "--generators=no",
      join(import.meta.dirname, "testdata", "missing-program.service"),
    ]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("/nonexistent/connecta-program is not executable");
  });
});

describe("exposure", () => {
  it("reads the overall level of a unit, and refuses output without one", () => {
    const out = "✗ PrivateNetwork= ...\n→ Overall exposure level for connecta-synapse.service: 1.1 OK 🙂\n";
    expect(exposure(out, "connecta-synapse.service")).toEqual({ score: 1.1, level: "OK" });
    expect(() => exposure(out, "connecta-client.service")).toThrow("no overall exposure level");
  });
});
