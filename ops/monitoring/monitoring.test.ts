/**
 * The monitoring configuration is valid and its alerts fire when they should: promtool checks
 * the rule file and the Prometheus configuration and runs the rules' unit tests
 * (alerts.test.yml); amtool checks the Alertmanager configuration. Both come with Debian's
 * `prometheus` and `prometheus-alertmanager` packages, which `ops/connecta test` installs; without
 * them these tests fail and say so.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = fileURLToPath(new URL(".", import.meta.url));

/** Runs `tool` with `args` in this folder; fails with a message saying how to get the tool. */
function run(tool: string, args: string[], pkg: string): string {
  const result = spawnSync(tool, args, { cwd: here, encoding: "utf8", timeout: 60_000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new Error(
      `${tool} is not installed: apt-get install --no-install-recommends ${pkg} (ops/connecta test installs it)`,
    );
  }
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed:\n${output}`);
  return output;
}

// Each case starts a process: seconds on a 2-core machine that also runs Synapse and browsers.
describe("the monitoring configuration", { timeout: 60_000 }, () => {
  it("has alert rules promtool accepts", () => {
    expect(run("promtool", ["check", "rules", "alerts.yml"], "prometheus")).toContain("SUCCESS");
  });

  it("has a Prometheus configuration promtool accepts", () => {
    expect(run("promtool", ["check", "config", "prometheus.yml"], "prometheus")).toContain("SUCCESS");
  });

  it("fires each alert on series that break its rule and not on others (alerts.test.yml)", () => {
    expect(run("promtool", ["test", "rules", "alerts.test.yml"], "prometheus")).toContain("SUCCESS");
  });

  it("has an Alertmanager configuration amtool accepts", () => {
    expect(run("amtool", ["check-config", "alertmanager.yml"], "prometheus-alertmanager")).toContain("SUCCESS");
  });
});
