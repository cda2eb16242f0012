/**
 * The live copies of the monitoring configuration (render.ts) differ from the files in this
 * folder only where the end-to-end test needs them to, and Prometheus and Alertmanager accept
 * them (promtool, amtool from Debian's packages; monitoring.test.ts says how to get them).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  liveAlertmanager,
  livePrometheus,
  readYaml,
  shortenRules,
  type AlertmanagerConfig,
  type PrometheusConfig,
  type RuleFile,
} from "./render.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const rules = readYaml(join(here, "alerts.yml")) as RuleFile;
const alertmanager = readYaml(join(here, "alertmanager.yml")) as AlertmanagerConfig;
const prometheus = readYaml(join(here, "prometheus.yml")) as PrometheusConfig;

const dir = mkdtempSync(join(tmpdir(), "connecta-monitoring-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `content` as JSON (which is YAML) into the temporary folder; returns its path. */
function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content, null, 2));
  return path;
}

function run(tool: string, args: string[]): string {
  const result = spawnSync(tool, args, { encoding: "utf8", timeout: 60_000 });
  if (result.error)
    throw new Error(`${tool}: ${result.error.message} (apt-get install prometheus prometheus-alertmanager)`);
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0) throw new Error(`${tool} ${args.join(" ")} failed:\n${output}`);
  return output;
}

const allRules = (file: RuleFile) => file.groups.flatMap((g) => g.rules);

describe("the shortened alert rules", () => {
  const short = shortenRules(rules, "5s", { EnquiryWaitingTooLong: 20 });

  it("hold every alert for the short duration and keep everything else", () => {
    const before = allRules(rules);
    const after = allRules(short);
    expect(after.map((r) => r.alert)).toEqual(before.map((r) => r.alert));
    expect(before.length).toBeGreaterThan(10);
    for (const [i, rule] of after.entries()) {
      const original = before[i];
      expect(rule.for).toBe("5s");
      expect(original?.for).toMatch(/^\d+[mh]$/);
      expect(rule.labels).toEqual(original?.labels);
      expect(rule.annotations).toEqual(original?.annotations);
      if (rule.alert !== "EnquiryWaitingTooLong") expect(rule.expr).toBe(original?.expr);
    }
  });

  it("compare the waiting time with the test's threshold instead of two hours", () => {
    const waiting = allRules(short).find((r) => r.alert === "EnquiryWaitingTooLong");
    expect(waiting?.expr).toBe("max by (agency) (connecta_appservice_queue_oldest_waiting_seconds) > 20");
    const original = allRules(rules).find((r) => r.alert === "EnquiryWaitingTooLong");
    expect(original?.expr).toMatch(/ > 2 \* 3600$/);
  });

  it("are accepted by promtool", () => {
    expect(run("promtool", ["check", "rules", write("rules.json", short)])).toContain("SUCCESS");
  });

  it("refuse an alert that does not exist or is not compared with a number", () => {
    expect(() => shortenRules(rules, "5s", { NoSuchAlert: 1 })).toThrow("no such alert: NoSuchAlert");
    // `up == 0` has no threshold to replace.
    expect(() => shortenRules(rules, "5s", { ComponentDown: 1 })).toThrow(/ComponentDown: expression does not end/);
  });
});

describe("the live Alertmanager configuration", () => {
  const live = liveAlertmanager(alertmanager, "http://127.0.0.1:1/hook", "1s");

  it("sends to the webhook from every receiver, under the receiver's name", () => {
    expect(live.receivers).toEqual(
      alertmanager.receivers.map((r) => ({
        name: r.name,
        webhook_configs: [{ url: "http://127.0.0.1:1/hook", send_resolved: true }],
      })),
    );
    expect(live.receivers.map((r) => r.name)).toEqual(["on-call", "team-mailbox"]);
  });

  it("keeps the routes and inhibitions, waiting a second before sending", () => {
    expect(live.route).toEqual({ ...alertmanager.route, group_wait: "1s", group_interval: "1s" });
    expect(live.inhibit_rules).toEqual(alertmanager.inhibit_rules);
  });

  it("is accepted by amtool", () => {
    expect(run("amtool", ["check-config", write("alertmanager.json", live)])).toContain("SUCCESS");
  });
});

describe("the live Prometheus configuration", () => {
  const options = {
    targets: { "connecta-appservice": ["127.0.0.1:19009"] },
    interval: "1s",
    ruleFile: "rules.json",
    alertmanager: "127.0.0.1:19093",
  };

  it("scrapes only the given targets, under the production job names", () => {
    const live = livePrometheus(prometheus, options);
    expect(live.scrape_configs).toEqual([
      { job_name: "connecta-appservice", static_configs: [{ targets: ["127.0.0.1:19009"] }] },
    ]);
    expect(live.global).toEqual({ scrape_interval: "1s", evaluation_interval: "1s" });
    expect(live.alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:19093"] }] }] });
    const synapse = livePrometheus(prometheus, { ...options, targets: { synapse: ["127.0.0.1:19008"] } });
    expect(synapse.scrape_configs[0]?.metrics_path).toBe("/_synapse/metrics");
  });

  it("refuses a job production does not have", () => {
    expect(() => livePrometheus(prometheus, { ...options, targets: { appservice: ["x:1"] } })).toThrow(
      "no scrape job appservice",
    );
  });

  it("is accepted by promtool, with the shortened rules", () => {
    write("rules.json", shortenRules(rules, "5s", { EnquiryWaitingTooLong: 20 }));
    expect(
      run("promtool", ["check", "config", write("prometheus.json", livePrometheus(prometheus, options))]),
    ).toContain("SUCCESS");
  });
});
