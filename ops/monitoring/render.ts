/**
 * Live copies of the monitoring configuration in this folder, for the end-to-end test that runs
 * Prometheus and Alertmanager against the real stack (tests/e2e/monitoring.test.ts).
 *
 * The alert rules wait for minutes (`for:`) and the waiting alert for two hours; a test cannot.
 * Rather than keep a second, faster copy of the rules that could drift from the real ones, the
 * test derives its copy from alerts.yml with {@link shortenRules}: every expression, label and
 * annotation stays as it is; only `for:` and the thresholds named by the test change. The same
 * holds for the routes of alertmanager.yml ({@link liveAlertmanager}: every receiver becomes the
 * test's webhook) and the scrape jobs of prometheus.yml ({@link livePrometheus}: the test's
 * targets). The results are JSON, which Prometheus and Alertmanager read as YAML.
 *
 * Node has no YAML parser and we add no dependency for this: {@link readYaml} asks PyYAML in
 * Synapse's venv (CONNECTA_SYNAPSE_PYTHON), which every stack has.
 */
import { spawnSync } from "node:child_process";
import { loadStackConfig } from "../stack/config.ts";

/** One rule of a Prometheus rule file (an alerting rule has `alert`, a recording rule `record`). */
export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Prometheus rule file. */
export interface RuleFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}

/** Parses the YAML file at `path` with PyYAML (safe_load) from Synapse's venv. */
export function readYaml(path: string): unknown {
  const python = loadStackConfig().synapsePython;
  const result = spawnSync(
    python,
    ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", path],
    {
      encoding: "utf8",
    },
  );
  if (result.error) throw new Error(`${python}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`parsing ${path} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as unknown;
}

/** A comparison `<expression> > <constant>`; the constant may be a product such as `2 * 3600`. */
const THRESHOLD = /^([\s\S]*\S)\s*>\s*(\d+(?:\.\d+)?(?:\s*\*\s*\d+(?:\.\d+)?)*)\s*$/;

/**
 * The rules with `for:` set to `holdFor` wherever a rule has one, and the constant an alert's
 * expression is compared with (`... > 2 * 3600`) replaced by `thresholds[alert]`. Throws when a
 * named alert does not exist or its expression does not end in such a comparison, so a change
 * of the real rule cannot leave the test's copy silently different.
 */
export function shortenRules(file: RuleFile, holdFor: string, thresholds: Record<string, number> = {}): RuleFile {
  const unused = new Set(Object.keys(thresholds));
  const groups = file.groups.map((group) => ({
    ...group,
    rules: group.rules.map((rule) => {
      const shortened: Rule = { ...rule, ...(rule.for === undefined ? {} : { for: holdFor }) };
      const threshold = rule.alert === undefined ? undefined : thresholds[rule.alert];
      if (rule.alert === undefined || threshold === undefined) return shortened;
      unused.delete(rule.alert);
      const match = THRESHOLD.exec(rule.expr.trim());
      if (!match) throw new Error(`${rule.alert}: expression does not end in "> <number>": ${rule.expr}`);
      return { ...shortened, expr: `${match[1]} > ${threshold}` };
    }),
  }));
  if (unused.size > 0) throw new Error(`no such alert: ${[...unused].join(", ")}`);
  return { ...file, groups };
}

/** An Alertmanager route (the top one or a child). */
interface Route {
  receiver?: string;
  group_wait?: string;
  group_interval?: string;
  routes?: Route[];
  [key: string]: unknown;
}

/** The parts of an Alertmanager configuration this module changes. */
export interface AlertmanagerConfig {
  route: Route;
  receivers: { name: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

/**
 * The configuration with its routes, groupings and inhibitions unchanged, every receiver
 * replaced by a webhook to `webhookUrl` (so the test sees which receiver an alert was routed to,
 * by its name) and every route's `group_wait` and `group_interval` set to `wait`.
 */
export function liveAlertmanager(config: AlertmanagerConfig, webhookUrl: string, wait: string): AlertmanagerConfig {
  const route = (r: Route): Route => ({
    ...r,
    ...(r.group_wait === undefined ? {} : { group_wait: wait }),
    ...(r.group_interval === undefined ? {} : { group_interval: wait }),
    ...(r.routes ? { routes: r.routes.map(route) } : {}),
  });
  return {
    ...config,
    route: route(config.route),
    receivers: config.receivers.map((r) => ({
      name: r.name,
      webhook_configs: [{ url: webhookUrl, send_resolved: true }],
    })),
  };
}

/** One scrape job of a Prometheus configuration. */
interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[] }[];
  [key: string]: unknown;
}

/** The parts of a Prometheus configuration this module changes. */
export interface PrometheusConfig {
  global?: Record<string, unknown>;
  scrape_configs: ScrapeConfig[];
  [key: string]: unknown;
}

/** Where the live Prometheus scrapes, evaluates and sends. */
export interface LivePrometheusOptions {
  /** Targets by job name; jobs not named here are left out. */
  targets: Record<string, string[]>;
  /** Scrape and evaluation interval. */
  interval: string;
  /** Path of the (shortened) rule file. */
  ruleFile: string;
  /** host:port of the Alertmanager. */
  alertmanager: string;
}

/**
 * The configuration with only the jobs named in `options.targets`, each keeping its metrics
 * path and other settings but scraping the given targets. Throws when a named job is not in the
 * file: the alert rules select jobs by name, and the test must use the names production uses.
 */
export function livePrometheus(config: PrometheusConfig, options: LivePrometheusOptions): PrometheusConfig {
  const jobs = Object.entries(options.targets).map(([name, targets]) => {
    const job = config.scrape_configs.find((j) => j.job_name === name);
    if (!job) throw new Error(`no scrape job ${name} in the Prometheus configuration`);
    return { ...job, static_configs: [{ targets }] };
  });
  return {
    ...config,
    global: { ...config.global, scrape_interval: options.interval, evaluation_interval: options.interval },
    rule_files: [options.ruleFile],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [options.alertmanager] }] }] },
    scrape_configs: jobs,
  };
}
