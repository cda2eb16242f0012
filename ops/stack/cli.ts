/**
 * `node ops/stack/cli.ts start`: starts the stack in the foreground and stops it cleanly on
 * Ctrl-C (SIGINT) or SIGTERM. Use it through `ops/connecta start`, which installs what is
 * missing first. When everything is ready it prints the URLs and one machine-readable line
 * `CONNECTA_READY {json}` that the test harness waits for.
 *
 * `node ops/stack/cli.ts reset [--yes]` (`ops/connecta reset`): deletes the data folder and
 * PostgreSQL's files, wherever postgres.ts put them, after asking.
 */
import { existsSync, rmSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { loadStackConfig, StackConfigError } from "./config.ts";
import { clusterDir } from "./postgres.ts";
import { startStack } from "./stack.ts";

const say = (line: string) => process.stdout.write(`connecta: ${line}\n`);

async function main(): Promise<number> {
  const command = process.argv[2];
  if (command === "start") return start();
  if (command === "reset") return reset(process.argv[3] === "--yes");
  process.stderr.write("usage: node ops/stack/cli.ts start | reset [--yes]\n");
  return 2;
}

async function reset(yes: boolean): Promise<number> {
  // Reset starts nothing: the binaries ops/connecta sets up for a start are not needed.
  const config = loadStackConfig({ CONNECTA_PG_BIN: "(unused)", CONNECTA_SYNAPSE_PYTHON: "(unused)", ...process.env });
  const data = config.dataDir;
  if (!yes) {
    const prompt = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await prompt.question(`Delete all local Connecta data in ${data} (accounts, rooms, keys)? [y/N] `);
    prompt.close();
    if (answer.trim().toLowerCase() !== "y") {
      say("nothing deleted");
      return 0;
    }
  }
  // PostgreSQL's files may live outside the data folder (see postgres.ts); ask before deleting it.
  if (existsSync(data)) rmSync(clusterDir(config), { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
  say(`deleted ${data}`);
  return 0;
}

async function start(): Promise<number> {
  const config = loadStackConfig();
  let stopping = false;
  let stopRequested: () => void = () => {};
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (!stopping) say("stopping ...");
      stopping = true;
      stopRequested();
    });
  }
  const started = Date.now();
  const stack = await startStack(config, (step) => say(`starting ${step}`));
  const { info } = stack;
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  say(`  web client           ${info.clientUrl}/`);
  say(`  Synapse (Matrix)     ${info.synapseUrl}/`);
  say(`  application service  ${info.appserviceUrl}/readyz`);
  say(`  LiveKit (calls)      ${info.livekitUrl.replace(/^http/, "ws")}`);
  say(`  PostgreSQL           ${info.bindAddress}:${info.pgPort}`);
  say(`  data and logs        ${info.dataDir}`);
  say("press Ctrl-C to stop");
  process.stdout.write(`CONNECTA_READY ${JSON.stringify(info)}\n`);

  const ended = await Promise.race([stopSignal.then(() => null), stack.firstExit]);
  await stack.stop();
  if (ended) {
    process.stderr.write(`connecta: ${ended.name} stopped unexpectedly; see ${ended.logFile}\n`);
    return 1;
  }
  say("stopped");
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof StackConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`connecta: error: ${message}\n`);
    process.exit(1);
  },
);
