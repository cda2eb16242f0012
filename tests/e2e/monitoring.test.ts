/**
 * Prometheus and Alertmanager from Debian's packages (`prometheus`, `prometheus-alertmanager`)
 * watch the real stack and their alerts arrive: an enquiry that waits past the threshold fires
 * EnquiryWaitingTooLong for its agency, and an application service that stops fires
 * ComponentDown, each routed to the receiver alertmanager.yml names for its severity.
 *
 * The stack is shared with the other test files, so this file stops no part of it: it starts an
 * application service replica of its own (as a second replica in production: same database,
 * same homeserver, its own port) and points Prometheus at that one only. Stopping it is what an
 * operator would see from one replica going down.
 *
 * The rules, routes and jobs are ops/monitoring/'s own, not a copy: ops/monitoring/render.ts
 * derives the live configuration from them (tested in render.test.ts). Only what a test cannot
 * wait for is shortened: every `for:` to {@link HOLD}, the waiting threshold from two hours to
 * {@link WAITING_THRESHOLD_S}, scrape and evaluation to every second, Alertmanager's group wait
 * to a second; every receiver is replaced by a webhook served here.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  liveAlertmanager,
  livePrometheus,
  readYaml,
  shortenRules,
  type AlertmanagerConfig,
  type PrometheusConfig,
  type RuleFile,
} from "../../ops/monitoring/render.ts";
import { ROOT } from "../../ops/stack/config.ts";
import {
  answers200,
  stablePorts,
  startService,
  stopService,
  waitUntil,
  type Service,
} from "../../ops/stack/processes.ts";
import { startAppservice } from "../../ops/stack/stack.ts";
import { eventually } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { connectaDb, seekerWrites } from "../support/workflow.ts";

const stack = inject("stack");
/** How long every alert's condition must hold before it fires (production: minutes). */
const HOLD = "3s";
/** Seconds an enquiry may wait before EnquiryWaitingTooLong (production: 2 hours). */
const WAITING_THRESHOLD_S = 15;
/** How long Prometheus and Alertmanager get to deliver an alert whose condition already holds. */
const DELIVERY_MS = 90_000;

/** One alert in an Alertmanager webhook notification. */
interface NotifiedAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** What the webhook received: each alert with the receiver it was routed to. */
const received: { receiver: string; alert: NotifiedAlert }[] = [];

const monitoringDir = mkdtempSync(join(tmpdir(), "connecta-monitoring-e2e-"));
const services: Service[] = [];
let webhook: Server;
let db: pg.Client;
let replica: Service;
let replicaTarget: string;
let prometheusUrl: string;

/** Starts a Debian package's binary with its log beside the stack's logs; resolves when `/-/ready` answers. */
async function startMonitor(name: string, binary: string, args: string[], url: string): Promise<Service> {
  const service = startService(name, binary, args, join(stack.dataDir, "logs", `${name}.log`));
  services.push(service);
  try {
    await waitUntil(service, "it is ready", () => answers200(`${url}/-/ready`), 60_000);
  } catch (err) {
    // A process that could not be spawned has ended already; one still running just was not ready.
    const ended = await Promise.race([service.exited, Promise.resolve(null)]);
    if (ended !== "spawn-error") throw err;
    throw new Error(
      `${binary} is not installed: apt-get install --no-install-recommends prometheus prometheus-alertmanager`,
      { cause: err },
    );
  }
  return service;
}

/** The first alert the webhook received with `alertname` and the given labels, firing. */
function firing(alertname: string, labels: Record<string, string>) {
  return received.find(
    ({ alert }) =>
      alert.status === "firing" &&
      alert.labels.alertname === alertname &&
      Object.entries(labels).every(([k, v]) => alert.labels[k] === v),
  );
}

beforeAll(async () => {
  db = await connectaDb(stack);
  const host = stack.bindAddress;
  const [replicaPort, webhookPort, alertmanagerPort, prometheusPort] = await stablePorts(host, 4);
  if (!replicaPort || !webhookPort || !alertmanagerPort || !prometheusPort) throw new Error("no free ports");

  replica = await startAppservice(stack, replicaPort, "appservice-monitoring");
  services.push(replica);
  replicaTarget = `${host}:${replicaPort}`;

  webhook = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const notification = JSON.parse(body) as { receiver: string; alerts: NotifiedAlert[] };
      for (const alert of notification.alerts) received.push({ receiver: notification.receiver, alert });
      res.end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(webhookPort, host, resolve));

  const source = join(ROOT, "ops", "monitoring");
  const write = (name: string, content: unknown) => {
    const path = join(monitoringDir, name);
    writeFileSync(path, JSON.stringify(content, null, 2));
    return path;
  };
  const rules = shortenRules(readYaml(join(source, "alerts.yml")) as RuleFile, HOLD, {
    EnquiryWaitingTooLong: WAITING_THRESHOLD_S,
  });
  write("alerts.json", rules);
  const alertmanagerConfig = write(
    "alertmanager.json",
    liveAlertmanager(
      readYaml(join(source, "alertmanager.yml")) as AlertmanagerConfig,
      `http://${host}:${webhookPort}/`,
      "1s",
    ),
  );
  const prometheusConfig = write(
    "prometheus.json",
    livePrometheus(readYaml(join(source, "prometheus.yml")) as PrometheusConfig, {
      targets: { "connecta-appservice": [replicaTarget] },
      interval: "1s",
      ruleFile: "alerts.json",
      alertmanager: `${host}:${alertmanagerPort}`,
    }),
  );

  await startMonitor(
    "alertmanager",
    "prometheus-alertmanager",
    [
      `--config.file=${alertmanagerConfig}`,
      `--storage.path=${join(monitoringDir, "alertmanager")}`,
      `--web.listen-address=${host}:${alertmanagerPort}`,
      // No cluster: it would listen on 9094 of every interface.
      "--cluster.listen-address=",
    ],
    `http://${host}:${alertmanagerPort}`,
  );
  prometheusUrl = `http://${host}:${prometheusPort}`;
  await startMonitor(
    "prometheus",
    "prometheus",
    [
      `--config.file=${prometheusConfig}`,
      `--storage.tsdb.path=${join(monitoringDir, "prometheus")}`,
      `--web.listen-address=${host}:${prometheusPort}`,
    ],
    prometheusUrl,
  );
});

afterAll(async () => {
  // Prometheus first: it would otherwise see the others go and fire at nobody.
  for (const service of services.reverse()) await stopService(service);
  await new Promise((resolve) => webhook?.close(resolve));
  await db?.end();
  rmSync(monitoringDir, { recursive: true, force: true });
});

describe("Prometheus and Alertmanager watching the stack", { timeout: 240_000 }, () => {
  it("scrape the application service replica", async () => {
    await eventually("the replica scraped and up", async () => {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent("up")}`);
      const body = (await res.json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return body.data.result.some(
        (r) => r.metric.job === "connecta-appservice" && r.metric.instance === replicaTarget && r.value[1] === "1",
      );
    });
  });

  it("alert the team when an enquiry waits past the threshold", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    await seekerWrites(stack, db, seeker, seeker);
    const { rows } = await db.query<{ waiting_since: Date }>("SELECT waiting_since FROM enquiries WHERE id = $1", [
      seeker.enquiryId,
    ]);
    const waitingSince = rows[0]?.waiting_since;
    if (!waitingSince) throw new Error("the enquiry does not wait");

    const notified = await eventually(
      "EnquiryWaitingTooLong for the agency at the webhook",
      () => firing("EnquiryWaitingTooLong", { agency: String(agency.agencyId) }),
      WAITING_THRESHOLD_S * 1000 + DELIVERY_MS,
    );
    expect(notified.receiver).toBe("team-mailbox");
    expect(notified.alert.labels.severity).toBe("warning");
    expect(notified.alert.annotations.runbook_url).toBe("docs/runbooks/queue-waiting.md");
    // Not before the enquiry had waited past the threshold (and the hold after it).
    expect(Date.parse(notified.alert.startsAt) - waitingSince.getTime()).toBeGreaterThanOrEqual(
      WAITING_THRESHOLD_S * 1000,
    );
  });

  it("page the on-call person when the application service stops", async () => {
    expect(firing("ComponentDown", { instance: replicaTarget })).toBeUndefined();
    expect(await stopService(replica)).toBe(0);
    const stoppedAt = Date.now();
    const notified = await eventually(
      "ComponentDown for the stopped replica at the webhook",
      () => firing("ComponentDown", { instance: replicaTarget }),
      DELIVERY_MS,
    );
    expect(notified.receiver).toBe("on-call");
    expect(notified.alert.labels).toMatchObject({ job: "connecta-appservice", severity: "critical" });
    expect(notified.alert.annotations.summary).toBe(`connecta-appservice on ${replicaTarget} is down`);
    expect(Date.parse(notified.alert.startsAt)).toBeGreaterThanOrEqual(stoppedAt - 1000);
  });
});
