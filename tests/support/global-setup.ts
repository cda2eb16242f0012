/**
 * Vitest global setup of the end-to-end tests: starts one real stack (PostgreSQL, Synapse, the
 * application service, the web client) with `ops/stack/cli.ts start` on free ports in a fresh
 * data folder, hands its URLs to the tests, and at the end stops it with SIGINT, as Ctrl-C would,
 * failing the run if it does not stop cleanly.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { TestProject } from "vitest/node";
import { clientBuildStale } from "../../ops/stack/client-build.ts";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";
import type { StackInfo } from "../../ops/stack/stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** Environment for a stack on free ports in `dataDir`. */
export function freshStackEnv(dataDir: string): NodeJS.ProcessEnv {
  for (const key of ["CONNECTA_PG_BIN", "CONNECTA_SYNAPSE_PYTHON", "CONNECTA_LIVEKIT_SERVER"]) {
    if (!process.env[key]) {
      throw new Error(`${key} is not set: run the tests with 'ops/connecta test', which installs and sets it`);
    }
  }
  return {
    ...process.env,
    CONNECTA_DATA_DIR: dataDir,
    CONNECTA_PG_PORT: "0",
    CONNECTA_SYNAPSE_PORT: "0",
    CONNECTA_SYNAPSE_METRICS_PORT: "0",
    CONNECTA_APPSERVICE_PORT: "0",
    CONNECTA_CLIENT_PORT: "0",
    CONNECTA_LIVEKIT_PORT: "0",
    CONNECTA_LIVEKIT_TCP_PORT: "0",
    CONNECTA_LIVEKIT_UDP_PORT: "0",
  };
}

/** Runs `command` (the stack CLI or ops/connecta) and resolves when it prints CONNECTA_READY. */
export function launchStack(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000) {
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = new Promise<StackInfo>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`stack not ready after ${timeoutMs} ms:\n${output.join("")}`)),
      timeoutMs,
    );
    createInterface({ input: child.stdout }).on("line", (line) => {
      output.push(`${line}\n`);
      if (line.startsWith("CONNECTA_READY ")) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice("CONNECTA_READY ".length)) as StackInfo);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`stack exited with ${code} before it was ready:\n${output.join("")}`));
    });
  });
  /** Sends SIGINT (Ctrl-C) and resolves with the exit code. */
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGINT");
    return exited;
  };
  return { child, ready, exited, stop, output };
}

/** Deletes a stopped stack's data folder and PostgreSQL's files. */
export function removeStackData(info: Pick<StackInfo, "dataDir" | "postgresDir">) {
  rmSync(info.dataDir, { recursive: true, force: true });
  rmSync(info.postgresDir, { recursive: true, force: true });
}

/**
 * The one Synapse setting the test stack changes: its login limit per address. The harness makes
 * every test user with the admin API and logs it in from 127.0.0.1 (tests/support/matrix.ts),
 * well over a hundred logins in a few minutes, beside the browsers' own logins; production's
 * 0.2 per second would stall the run. The limits per account and for failed logins stay as
 * shipped (Synapse's extra config replaces a whole top-level key, so they are repeated here).
 */
const E2E_SYNAPSE_CONFIG = `rc_login:
  address: {per_second: 2, burst_count: 50}
  account: {per_second: 0.2, burst_count: 5}
  failed_attempts: {per_second: 0.1, burst_count: 5}
`;

export default async function setup(project: TestProject) {
  // `ops/connecta test` builds the client first; a developer running single files after changing
  // the client gets the build they are testing, not the last one.
  if (clientBuildStale())
    execFileSync("npm", ["run", "--silent", "-w", "client", "build"], { cwd: ROOT, stdio: "ignore" });
  const dataDir = join(ROOT, ".data", "test-runs", `${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  const extraConfig = join(dataDir, "e2e-synapse.yaml");
  writeFileSync(extraConfig, E2E_SYNAPSE_CONFIG);
  const stack = launchStack(process.execPath, [join(ROOT, "ops", "stack", "cli.ts"), "start"], {
    ...freshStackEnv(dataDir),
    CONNECTA_SYNAPSE_EXTRA_CONFIG: extraConfig,
    // An Impressum and a crisis line, and no privacy notice: the trust pages show both cases.
    CONNECTA_SITE_FILE: join(ROOT, "tests", "support", "site.json"),
  });
  const info = await stack.ready;
  project.provide("stack", info);
  return async () => {
    const code = await stack.stop();
    if (code !== 0) throw new Error(`the stack did not stop cleanly on SIGINT (exit ${code}); logs in ${dataDir}/logs`);
    if (!loadStackConfig().keepTestData) removeStackData(info);
  };
}
