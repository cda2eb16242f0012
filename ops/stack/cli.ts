/**
 * `node ops/stack/cli.ts start`: starts the stack in the foreground and stops it cleanly on
 * Ctrl-C (SIGINT) or SIGTERM. Use it through `ops/connecta start`, which installs what is
 * missing first. When everything is ready it prints the URLs and one machine-readable line
 * `CONNECTA_READY {json}` that the test harness waits for.
 */
import { loadStackConfig, StackConfigError } from "./config.ts";
import { startStack } from "./stack.ts";

const say = (line: string) => process.stdout.write(`connecta: ${line}\n`);

async function main(): Promise<number> {
  const command = process.argv[2];
  if (command !== "start") {
    process.stderr.write("usage: node ops/stack/cli.ts start\n");
    return 2;
  }
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
