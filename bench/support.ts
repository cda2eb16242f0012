/**
 * What the browser benchmarks share: the client build check and a fresh stack that is stopped
 * and removed however the run ends.
 */
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../ops/stack/config.ts";
import { freshStackEnv, launchStack, removeStackData } from "../tests/support/global-setup.ts";

/** When the web client's production build was made; throws if there is none. */
export function requireClientBuild(): Date {
  const built = statSync(join(ROOT, "client", "build", "handler.js"), { throwIfNoEntry: false });
  if (!built) throw new Error("client/build is missing: run `npm run -w client build` first");
  return built.mtime;
}

/** A new data folder for a benchmark's stack, under .data/ (made if missing, as in a fresh clone). */
export function benchDataDir(name: string): string {
  mkdirSync(join(ROOT, ".data"), { recursive: true });
  return mkdtempSync(join(ROOT, ".data", `bench-${name}-`));
}

/**
 * Writes a Synapse configuration file into `dataDir` that raises its message, join, login and
 * registration limits (one address on loopback sends for every seeker and counsellor of a
 * benchmark), plus `more` of the same form; returns its path, for CONNECTA_SYNAPSE_EXTRA_CONFIG.
 */
export function raisedSynapseLimits(dataDir: string, more: string[] = []): string {
  const path = join(dataDir, "bench-synapse.yaml");
  const raised = (name: string) => `${name}: {per_second: 1000, burst_count: 1000}`;
  writeFileSync(
    path,
    [
      raised("rc_message"),
      "rc_joins: {local: {per_second: 1000, burst_count: 1000}}",
      "rc_login: {address: {per_second: 1000, burst_count: 1000}, account: {per_second: 1000, burst_count: 1000}}",
      raised("rc_registration"),
      ...more.map(raised),
      "",
    ].join("\n"),
  );
  return path;
}

/**
 * Starts a fresh stack in `dataDir` (with `env` on top of a fresh stack's environment). The
 * returned `cleanup` runs `release` (close browsers, stop clients) while the stack stops, then
 * removes the stack's data, or keeps it with its logs if the stack did not stop cleanly; it is
 * safe to call twice. SIGINT and SIGTERM run it and exit with 130.
 */
export function benchStack(dataDir: string, env: Record<string, string>, release: () => Promise<unknown>) {
  const stack = launchStack(process.execPath, [join(ROOT, "ops", "stack", "cli.ts"), "start"], {
    ...freshStackEnv(dataDir),
    ...env,
  });
  let cleaned: Promise<void> | undefined;
  const cleanup = (interrupted = false): Promise<void> =>
    (cleaned ??= (async () => {
      const releasing = release().catch(() => undefined);
      const stopped = stack.stop();
      await releasing;
      const code = await stopped;
      if (code !== 0 && !interrupted) {
        console.error(`the stack did not stop cleanly (exit ${code}); logs kept in ${dataDir}/logs`);
        return;
      }
      const info = await stack.ready.catch(() => undefined);
      removeStackData({ dataDir, postgresDir: info?.postgresDir ?? dataDir });
    })());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the stack`);
      // Pending browser and Matrix calls fail once their peers are gone: expected now.
      process.on("uncaughtException", () => undefined);
      process.on("unhandledRejection", () => undefined);
      void cleanup(true).finally(() => process.exit(130));
    });
  }
  return { stack, cleanup };
}
