/**
 * The values for the Element Server Suite chart (ops/helm/ess/values-connecta.yaml) stay true to
 * homeserver-config/: every Synapse setting homeserver.yaml makes and the chart does not own is
 * passed through `synapse.additional` with the same value, our registration and module are
 * given to Synapse, no secret is in the file, and it uses only value keys the chart has.
 *
 * The chart (AGPL) is not fetched in CI and not copied here. The keys below were read from
 * element-hq/ess-helm charts/matrix-stack/values.yaml and values.schema.json at chart version
 * 26.8.2-dev (commit 83c7981, August 2026); the schema refuses unknown keys, so a key outside
 * these lists would fail `helm install`. Check them again when moving to a newer chart.
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment --
   the tests walk parsed YAML (Values, below) */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { readYaml } from "../monitoring/render.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..", "..");
const valuesFile = join(here, "ess", "values-connecta.yaml");

/** Parsed YAML, untyped: the assertions below check its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Values = Record<string, any>;

/** Top-level keys of the chart's values (chart 26.8.2-dev). */
const CHART_KEYS = [
  "affinity",
  "certManager",
  "clusterDomain",
  "deploymentMarkers",
  "elementAdmin",
  "elementWeb",
  "global",
  "haproxy",
  "hookshot",
  "image",
  "ingress",
  "initSecrets",
  "labels",
  "matrixAuthenticationService",
  "matrixRTC",
  "matrixTools",
  "networking",
  "postgres",
  "priorityClassName",
  "redis",
  "runtimeClassName",
  "schedulerName",
  "serverName",
  "storage",
  "synapse",
  "tolerations",
  "topologySpreadConstraints",
  "wellKnownDelegation",
];
/** Keys of `synapse` (chart 26.8.2-dev). */
const SYNAPSE_KEYS = [
  "additional",
  "affinity",
  "annotations",
  "appservices",
  "checkConfigHook",
  "containersSecurityContext",
  "enabled",
  "extraArgs",
  "extraEnv",
  "extraInitContainers",
  "extraVolumeMounts",
  "extraVolumes",
  "hostAliases",
  "image",
  "ingress",
  "labels",
  "livenessProbe",
  "logging",
  "macaroon",
  "media",
  "nodeSelector",
  "podSecurityContext",
  "postgres",
  "priorityClassName",
  "readinessProbe",
  "redis",
  "registrationSharedSecret",
  "replicas",
  "resources",
  "runtimeClassName",
  "schedulerName",
  "serviceAccount",
  "serviceMonitors",
  "signingKey",
  "startupProbe",
  "tolerations",
  "topologySpreadConstraints",
  "workers",
];
/** Synapse worker types of the chart (chart 26.8.2-dev); each needs `replicas`. */
const WORKER_TYPES = [
  "account-data",
  "appservice",
  "background",
  "client-reader",
  "device-lists",
  "encryption",
  "event-creator",
  "event-persister",
  "federation-inbound",
  "federation-reader",
  "federation-sender",
  "initial-synchrotron",
  "mas-helper",
  "media-repository",
  "presence-writer",
  "push-rules",
  "pusher",
  "receipts",
  "sliding-sync",
  "sso-login",
  "synchrotron",
  "typing-persister",
  "user-dir",
];
/** Keys of `synapse.postgres` and `synapse.ingress` (chart 26.8.2-dev). */
const POSTGRES_KEYS = ["host", "port", "user", "database", "sslMode", "password"];
const INGRESS_KEYS = [
  "annotations",
  "host",
  "className",
  "tlsEnabled",
  "tlsSecret",
  "controllerType",
  "service",
  "additionalPaths",
];

/**
 * Settings of homeserver.yaml the chart sets itself from its own values or owns: listeners,
 * database, file paths and secrets of the pod, max_upload_size (from synapse.media), the
 * registration files (from synapse.appservices). Everything else must be passed through.
 */
const CHART_OWNED = [
  "server_name",
  "public_baseurl",
  "pid_file",
  "signing_key_path",
  "macaroon_secret_key_path",
  "form_secret_path",
  "listeners",
  "enable_metrics",
  "database",
  "log_config",
  "media_store_path",
  "max_upload_size",
  "app_service_config_files",
];
/** Settings whose values name this deployment's hosts; compared by shape below. */
const DEPLOYMENT_SPECIFIC = ["matrix_rtc", "modules"];

const values = readYaml(valuesFile) as Values;

const dir = mkdtempSync(join(tmpdir(), "connecta-ess-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Parses YAML text (by way of a file: readYaml reads files). */
function parseYaml(name: string, text: string): Values {
  const path = join(dir, name);
  writeFileSync(path, text);
  return readYaml(path) as Values;
}

/** homeserver.yaml with each placeholder replaced by its name (a plain string). */
const homeserver = parseYaml(
  "homeserver.yaml",
  readFileSync(join(root, "homeserver-config", "homeserver.yaml"), "utf8").replace(
    /\{\{([A-Z0-9_]+)\}\}/g,
    "PLACEHOLDER_$1",
  ),
);
const additionalEntries = Object.entries(values.synapse.additional as Values);
const additional = parseYaml("additional.yaml", String(additionalEntries[0]?.[1].config));

describe("the values for the Element Server Suite chart", () => {
  it("pass every Synapse setting of homeserver-config the chart does not own, with the same value", () => {
    expect(additionalEntries.map(([name]) => name)).toEqual(["connecta.yaml"]);
    const expected = Object.keys(homeserver).filter((key) => !CHART_OWNED.includes(key));
    expect(Object.keys(additional).sort()).toEqual(expected.sort());
    for (const key of expected.filter((k) => !DEPLOYMENT_SPECIFIC.includes(k))) {
      expect({ [key]: additional[key] }).toEqual({ [key]: homeserver[key] });
    }
  });

  it("include the settings that make the server closed, encrypted and rate-limited", () => {
    // A guard against moving one of these into CHART_OWNED above to make the first test pass.
    for (const key of [
      "federation_domain_whitelist",
      "trusted_key_servers",
      "encryption_enabled_by_default_for_room_type",
      "experimental_features",
      "matrix_rtc",
      "retention",
      "media_retention",
      "rc_message",
      "rc_login",
      "rc_registration",
      "registration_requires_token",
      "modules",
    ]) {
      expect(additional).toHaveProperty([key]);
    }
    expect(additional.federation_domain_whitelist).toEqual([]);
    expect(additional.encryption_enabled_by_default_for_room_type).toBe("all");
  });

  it("send calls to our token service and our module to this server's service users", () => {
    const [transport] = additional.matrix_rtc.transports as Values[];
    const [ours] = homeserver.matrix_rtc.transports as Values[];
    expect(Object.keys(transport ?? {}).sort()).toEqual(Object.keys(ours ?? {}).sort());
    expect(transport?.type).toBe("livekit");
    expect(transport?.url).toMatch(/^wss:\/\//);
    // The web client forwards /api/v1/ to the application service (appservice/src/rtc/).
    expect(transport?.livekit_service_url).toMatch(/^https:\/\/[^/]+\/api\/v1\/rtc$/);
    // The chart's own token service would be added as a second transport.
    expect(values.matrixRTC.enabled).toBe(false);

    const [module] = additional.modules as Values[];
    const [reference] = homeserver.modules as Values[];
    const serverName = String(values.serverName).replace(/\./g, "\\.");
    expect(module).toEqual({
      ...reference,
      config: { ...reference?.config, service_users: `@connecta-.*:${serverName}` },
    });
  });

  it("put our module on Python's import path of every Synapse process", () => {
    const [volume] = values.synapse.extraVolumes as Values[];
    const [mount] = values.synapse.extraVolumeMounts as Values[];
    expect(volume).toEqual({ name: "connecta-rules", configMap: { name: "connecta-synapse-module" } });
    // No mountContext: the chart mounts it for the config check hook too.
    expect(mount).toEqual({ name: "connecta-rules", mountPath: "/connecta", readOnly: true });
    expect(values.synapse.extraEnv).toEqual([{ name: "PYTHONPATH", value: "/connecta" }]);
    expect(String(homeserver.modules[0].module)).toMatch(/^connecta_rules\./);
  });

  it("give Synapse our registration from a Secret and the upload limit through the chart's own value", () => {
    expect(values.synapse.appservices).toEqual([
      { secret: "connecta-appservice-registration", secretKey: "registration.yaml" },
    ]);
    // It must be a Secret: the registration holds both tokens.
    expect(readFileSync(join(root, "homeserver-config", "appservice-registration.yaml"), "utf8")).toMatch(
      /^as_token:[\s\S]*^hs_token:/m,
    );
    expect(values.synapse.media.maxUploadSize).toBe(homeserver.max_upload_size);
  });

  it("hold no secret: passwords are Secret references, no token or key is written out", () => {
    const walk = (node: unknown, path: string[]): void => {
      if (Array.isArray(node)) node.forEach((item, i) => walk(item, [...path, String(i)]));
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node as Values)) {
          if (/password|signingKey|macaroon|registrationSharedSecret|livekitAuth/i.test(key)) {
            expect({ [[...path, key].join(".")]: value }).toEqual({
              [[...path, key].join(".")]: { secret: expect.any(String), secretKey: expect.any(String) },
            });
          }
          walk(value, [...path, key]);
        }
      }
    };
    walk(values, []);
    const text = readFileSync(valuesFile, "utf8");
    expect(text).not.toMatch(/^\s*(as_token|hs_token|macaroon_secret_key|form_secret|registration_shared_secret)\s*:/m);
    // Environment values are written out: none may be a secret.
    for (const env of values.synapse.extraEnv as Values[]) expect(env.name).not.toMatch(/TOKEN|SECRET|PASSWORD|KEY/);
  });

  it("use only value keys the chart has (chart 26.8.2-dev)", () => {
    const unknown = (keys: string[], known: string[]) => keys.filter((k) => !known.includes(k));
    expect(unknown(Object.keys(values), CHART_KEYS)).toEqual([]);
    expect(unknown(Object.keys(values.synapse as Values), SYNAPSE_KEYS)).toEqual([]);
    expect(unknown(Object.keys(values.synapse.workers as Values), WORKER_TYPES)).toEqual([]);
    for (const worker of Object.values(values.synapse.workers as Values)) {
      expect(worker).toEqual({ enabled: true, replicas: expect.any(Number) });
    }
    expect(unknown(Object.keys(values.synapse.postgres as Values), POSTGRES_KEYS)).toEqual([]);
    expect(unknown(Object.keys(values.synapse.ingress as Values), INGRESS_KEYS)).toEqual([]);
    for (const path of values.synapse.ingress.additionalPaths as Values[]) {
      expect(["internally_and_externally", "only_externally", "blocked"]).toContain(path.availability);
    }
    for (const [, entry] of additionalEntries) expect(Object.keys(entry as Values)).toEqual(["config"]);
    for (const env of values.synapse.extraEnv as Values[]) expect(Object.keys(env).sort()).toEqual(["name", "value"]);
  });
});
