/**
 * The Helm chart (ops/helm/connecta) lints, renders and validates, and what it renders keeps its
 * promises: replicas, probes on the right paths, restricted pod security, secrets only as files
 * from the operator's Secret, NetworkPolicies that let in only Synapse and the web client.
 *
 * Helm and kubernetes-validate come from `ops/connecta setup` (or `test`), which builds and installs
 * them into the tools folder and sets CONNECTA_HELM and CONNECTA_KUBERNETES_VALIDATE; without
 * them these tests fail and say so. The rendered YAML is parsed with PyYAML from
 * kubernetes-validate's venv (Node has no YAML parser and we add no dependency for a test).
 */
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-return --
   the tests walk parsed YAML (Manifest, below) */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadStackConfig } from "../stack/config.ts";

const here = fileURLToPath(new URL(".", import.meta.url));
const chart = join(here, "connecta");
/** The values every installation must set (nothing secret). */
const required = join(chart, "ci/required-values.yaml");
/** A second installation: 3 replicas, calls on, NetworkPolicies off. */
const scaled = join(chart, "ci/scaled-values.yaml");
/** The Kubernetes version the manifests are validated against. */
const KUBE_VERSION = "1.33.0";

/** The path of a tool from the stack configuration, or an error saying how to get it. */
function tool(path: string | null, variable: string, what: string): string {
  if (!path) throw new Error(`${variable} is not set: run ops/connecta setup, which installs ${what} and sets it`);
  if (!existsSync(path))
    throw new Error(`${variable}=${path} does not exist: run ops/connecta setup to install ${what}`);
  return path;
}

const config = loadStackConfig();
const helm = (): string => tool(config.helm, "CONNECTA_HELM", "Helm");
const kubernetesValidate = (): string =>
  tool(config.kubernetesValidate, "CONNECTA_KUBERNETES_VALIDATE", "kubernetes-validate");

interface Result {
  status: number | null;
  output: string;
}

function run(command: string, args: string[]): Result {
  const result = spawnSync(command, args, { cwd: here, encoding: "utf8", timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function mustRun(command: string, args: string[]): string {
  const { status, output } = run(command, args);
  if (status !== 0) throw new Error(`${command} ${args.join(" ")} failed:\n${output}`);
  return output;
}

/**
 * One Kubernetes object as rendered, untyped: typing every kind the chart renders would repeat
 * Kubernetes' schemas, which kubernetes-validate checks; the assertions below check the shape.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Manifest = Record<string, any>;

interface Rendering {
  /** The rendered files (one per template). */
  files: string[];
  /** Their text, concatenated. */
  text: string;
  /** Every object in them. */
  manifests: Manifest[];
}

/** `fn`'s result, computed on the first call. */
function once<T>(fn: () => T): () => T {
  let result: { value: T } | null = null;
  return () => (result ??= { value: fn() }).value;
}

const outputDirs: string[] = [];
afterAll(() => {
  for (const dir of outputDirs) rmSync(dir, { recursive: true, force: true });
});

/** Renders the chart with the values files (and `--set`s) into a fresh folder and parses what came out. */
function render(valuesFiles: string[], sets: string[] = []): Rendering {
  const dir = mkdtempSync(join(tmpdir(), "connecta-helm-"));
  outputDirs.push(dir);
  mustRun(helm(), [
    "template",
    "connecta",
    chart,
    "--namespace",
    "connecta",
    // Helm renders for an old default version otherwise, which the chart's kubeVersion refuses.
    "--kube-version",
    KUBE_VERSION,
    "--output-dir",
    dir,
    ...valuesFiles.flatMap((file) => ["--values", file]),
    ...sets.flatMap((set) => ["--set", set]),
  ]);
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".yaml"))
    .map((name) => join(dir, name))
    .sort();
  const python = join(dirname(kubernetesValidate()), "python");
  const parse = [
    "import json, sys, yaml",
    "docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]",
    "json.dump(docs, sys.stdout)",
  ].join("\n");
  const json = spawnSync(python, ["-c", parse, ...files], { encoding: "utf8" });
  if (json.status !== 0) throw new Error(`parsing the rendered YAML failed:\n${json.stderr}`);
  const text = files.map((file) => readFileSync(file, "utf8")).join("\n");
  return { files, text, manifests: JSON.parse(json.stdout) as Manifest[] };
}

function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && m.metadata?.name === name);
  if (!found)
    throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata?.name}`).join(", ")}`);
  return found;
}

function container(deployment: Manifest): Manifest {
  return deployment.spec.template.spec.containers[0] as Manifest;
}

function env(deployment: Manifest): Map<string, Manifest> {
  return new Map((container(deployment).env as Manifest[]).map((e) => [e.name as string, e]));
}

/** Fails with kubernetes-validate's report unless every rendered object is valid. */
function expectValid(rendering: Rendering): void {
  const { status, output } = run(kubernetesValidate(), [
    "--kubernetes-version",
    KUBE_VERSION,
    "--strict",
    "--quiet",
    ...rendering.files,
  ]);
  expect(output).toBe("");
  expect(status).toBe(0);
}

describe("the Helm chart", { timeout: 60_000 }, () => {
  // Rendered on first use, so that a missing tool fails each test rather than skipping them.
  const defaults = once(() => render([required]));
  const second = once(() => render([required, scaled]));

  it("passes helm lint --strict", () => {
    expect(mustRun(helm(), ["lint", chart, "--strict", "--values", required])).toContain("0 chart(s) failed");
  });

  it("refuses to render without the Secret's name and the image, naming the missing value", () => {
    const { status, output } = run(helm(), ["template", "connecta", chart, "--kube-version", KUBE_VERSION]);
    expect(status).not.toBe(0);
    expect(output).toMatch(/image\.repository is required|existingSecret is required/);
  });

  it(`renders objects that Kubernetes ${KUBE_VERSION} accepts, with the default values`, () => {
    expectValid(defaults());
  });

  it(`renders objects that Kubernetes ${KUBE_VERSION} accepts, with 3 replicas and no NetworkPolicies`, () => {
    expectValid(second());
  });

  it("runs two replicas of each component by default, three with the second values", () => {
    for (const [rendering, replicas] of [
      [defaults(), 2],
      [second(), 3],
    ] as const) {
      expect(find(rendering.manifests, "Deployment", "connecta-appservice").spec.replicas).toBe(replicas);
      expect(find(rendering.manifests, "Deployment", "connecta-client").spec.replicas).toBe(replicas);
    }
  });

  it("probes the application service's /healthz and /readyz and the client's /healthz", () => {
    const appservice = container(find(defaults().manifests, "Deployment", "connecta-appservice"));
    expect(appservice.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(appservice.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    const client = container(find(defaults().manifests, "Deployment", "connecta-client"));
    expect(client.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(client.readinessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
  });

  it("runs every pod under the restricted pod security standard, without a service account token", () => {
    const deployments = [...defaults().manifests, ...second().manifests].filter((m) => m.kind === "Deployment");
    expect(deployments).toHaveLength(4);
    for (const deployment of deployments) {
      const pod = deployment.spec.template.spec as Manifest;
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers as Manifest[]) {
        expect(c.securityContext).toEqual({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(c.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
        expect(c.resources.limits).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
      }
    }
    expect(find(defaults().manifests, "ServiceAccount", "connecta").automountServiceAccountToken).toBe(false);
  });

  it("carries no secret: tokens and passwords are files from the operator's Secret", () => {
    for (const rendering of [defaults(), second()]) {
      expect(rendering.manifests.filter((m) => m.kind === "Secret")).toEqual([]);
      const deployment = find(rendering.manifests, "Deployment", "connecta-appservice");
      const vars = env(deployment);
      for (const [name, e] of vars) {
        // Anything named like a secret is either a path under the secret mount or a reference.
        if (/TOKEN|PASSWORD|KEY|SECRET|WEBHOOK/.test(name)) {
          if (name.endsWith("_FILE")) expect(e.value).toMatch(/^\/run\/secrets\/connecta\/[a-z_]+$/);
          else expect(e.valueFrom.secretKeyRef).toMatchObject({ name: "connecta-secrets", optional: true });
        }
      }
      expect(vars.get("CONNECTA_AS_TOKEN_FILE")?.value).toBe("/run/secrets/connecta/as_token");
      expect(vars.get("CONNECTA_HS_TOKEN_FILE")?.value).toBe("/run/secrets/connecta/hs_token");
      expect(vars.get("CONNECTA_OPERATOR_TOKEN_FILE")?.value).toBe("/run/secrets/connecta/operator_token");
      expect(vars.get("CONNECTA_AS_DATABASE_PASSWORD_FILE")?.value).toBe("/run/secrets/connecta/database_password");
      const volume = (deployment.spec.template.spec.volumes as Manifest[]).find((v) => v.name === "secrets");
      expect(volume?.secret.secretName).toBe("connecta-secrets");
      expect(container(deployment).volumeMounts).toContainEqual({
        name: "secrets",
        mountPath: "/run/secrets/connecta",
        readOnly: true,
      });
      // The web client gets no secret at all.
      const client = find(rendering.manifests, "Deployment", "connecta-client");
      expect(client.spec.template.spec.volumes).toEqual([
        { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
      ]);
      expect(JSON.stringify(client)).not.toMatch(/secret/i);
    }
    // Nor do the defaults: no token-like value anywhere in the rendered text.
    expect(defaults().text).not.toMatch(/(token|password|secret)\s*:\s*["']?[A-Za-z0-9+/_-]{16,}/i);
  });

  it("mounts LiveKit's key file and tells the client LiveKit's URL only when calls are set up", () => {
    const items = (rendering: Rendering): string[] =>
      (find(rendering.manifests, "Deployment", "connecta-appservice").spec.template.spec.volumes as Manifest[]).flatMap(
        (v) => (v.secret ? (v.secret.items as Manifest[]).map((i) => i.path as string) : []),
      );
    expect(items(defaults())).not.toContain("livekit_keys");
    expect(items(second())).toContain("livekit_keys");
    const appservice = env(find(second().manifests, "Deployment", "connecta-appservice"));
    expect(appservice.get("CONNECTA_LIVEKIT_KEY_FILE")?.value).toBe("/run/secrets/connecta/livekit_keys");
    expect(appservice.get("CONNECTA_RETENTION_SWEEP_MINUTES")?.value).toBe("30");
    expect(env(find(second().manifests, "Deployment", "connecta-client")).get("CONNECTA_LIVEKIT_URL")?.value).toBe(
      "wss://livekit.example.org",
    );
    expect(env(find(defaults().manifests, "Deployment", "connecta-client")).has("CONNECTA_LIVEKIT_URL")).toBe(false);
  });

  it("points the client at the application service's Service", () => {
    const client = env(find(defaults().manifests, "Deployment", "connecta-client"));
    expect(client.get("CONNECTA_APPSERVICE_URL")?.value).toBe("http://connecta-appservice:9009");
    expect(find(defaults().manifests, "Service", "connecta-appservice").spec.ports[0].port).toBe(9009);
    expect(find(defaults().manifests, "Service", "connecta-client").spec.ports[0].port).toBe(3000);
  });

  it("keeps a replica of each component through node drains", () => {
    for (const component of ["appservice", "client"]) {
      const pdb = find(defaults().manifests, "PodDisruptionBudget", `connecta-${component}`);
      expect(pdb.spec).toMatchObject({
        minAvailable: 1,
        selector: { matchLabels: { "app.kubernetes.io/component": component } },
      });
    }
    expect(
      second()
        .manifests.filter((m) => m.kind === "PodDisruptionBudget")
        .map((m) => m.metadata.name),
    ).toEqual(["connecta-appservice"]);
  });

  it("lets only Synapse and the web client reach the application service, which reaches only its dependencies", () => {
    const policy = find(defaults().manifests, "NetworkPolicy", "connecta-appservice");
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toEqual([
      {
        from: [
          { podSelector: { matchLabels: { "app.kubernetes.io/name": "synapse" } } },
          {
            podSelector: {
              matchLabels: {
                "app.kubernetes.io/name": "connecta",
                "app.kubernetes.io/instance": "connecta",
                "app.kubernetes.io/component": "client",
              },
            },
          },
        ],
        ports: [{ port: 9009, protocol: "TCP" }],
      },
    ]);
    const egressPorts = (policy.spec.egress as Manifest[]).map((rule) =>
      (rule.ports as Manifest[]).map((p) => `${p.port}/${p.protocol}`).join(","),
    );
    // PostgreSQL, Synapse, DNS; no LiveKit without calls.
    expect(egressPorts).toEqual(["5432/TCP", "8008/TCP", "53/UDP,53/TCP"]);
    for (const rule of policy.spec.egress as Manifest[]) expect(rule.to.length).toBeGreaterThan(0);

    const client = find(defaults().manifests, "NetworkPolicy", "connecta-client");
    expect(client.spec.ingress).toEqual([{ ports: [{ port: 3000, protocol: "TCP" }] }]);
    expect(client.spec.egress[0].to).toEqual([
      {
        podSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "connecta",
            "app.kubernetes.io/instance": "connecta",
            "app.kubernetes.io/component": "appservice",
          },
        },
      },
    ]);
    expect(second().manifests.filter((m) => m.kind === "NetworkPolicy")).toEqual([]);
  });

  it("lets the application service reach LiveKit's API when calls are set up", () => {
    const withCalls = render([required], ["livekit.url=wss://livekit.example.org"]);
    const policy = find(withCalls.manifests, "NetworkPolicy", "connecta-appservice");
    expect(policy.spec.egress[2]).toEqual({
      to: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "livekit-server" } } }],
      ports: [{ port: 7880, protocol: "TCP" }],
    });
    expectValid(withCalls);
  });
});
