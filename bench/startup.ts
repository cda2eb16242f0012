/**
 * Start-up time of the whole stack, cold (fresh data folder: initdb, Synapse schema, migrations)
 * and warm (existing data), with the time of each component. Synapse's own share is the
 * baseline: what a bare Synapse on the same PostgreSQL costs in the same run.
 *
 *   node bench/startup.ts [runs=3]      (through ops/connecta's environment, see README)
 */
import { mkdtempSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT } from "../ops/stack/config.ts";
import { freshStackEnv, launchStack, removeStackData } from "../tests/support/global-setup.ts";

const runs = Number(process.argv[2] ?? 3);

interface Sample {
  total: number;
  steps: Record<string, number>;
}

async function startOnce(dataDir: string): Promise<Sample> {
  const began = performance.now();
  const stack = launchStack(process.execPath, [join(ROOT, "ops", "stack", "cli.ts"), "start"], freshStackEnv(dataDir));
  const marks: [string, number][] = [];
  stack.child.stdout.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      const step = /^connecta: starting (\S+)/.exec(line)?.[1];
      if (step) marks.push([step, performance.now()]);
    }
  });
  const info = await stack.ready;
  postgresDirs.add(info.postgresDir);
  const total = performance.now() - began;
  marks.push(["ready", began + total]);
  const steps: Record<string, number> = {};
  for (let i = 0; i + 1 < marks.length; i++) {
    const [name, at] = marks[i] ?? ["", 0];
    steps[name] = (marks[i + 1]?.[1] ?? at) - at;
  }
  const code = await stack.stop();
  if (code !== 0) throw new Error(`stack exited ${code}`);
  return { total, steps };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

function report(name: string, samples: Sample[]) {
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  const step = (key: string) => seconds(median(samples.map((s) => s.steps[key] ?? 0)));
  console.log(
    `| ${name} | ${samples.length} | ${seconds(median(samples.map((s) => s.total)))} | ${step("PostgreSQL")} | ${step("Synapse")} | ${step("application")} | ${step("web")} |`,
  );
}

const postgresDirs = new Set<string>();
const cold: Sample[] = [];
const warm: Sample[] = [];
for (let i = 0; i < runs; i++) {
  const dataDir = mkdtempSync(join(ROOT, ".data", "bench-startup-"));
  try {
    cold.push(await startOnce(dataDir));
    warm.push(await startOnce(dataDir));
  } finally {
    for (const postgresDir of postgresDirs) removeStackData({ dataDir, postgresDir });
  }
}
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`,
);
console.log(
  "| start | runs | total s (median) | PostgreSQL s | Synapse s (baseline) | application service s | web client s |",
);
console.log("|---|---|---|---|---|---|---|");
report("cold (new data folder)", cold);
report("warm (existing data)", warm);
