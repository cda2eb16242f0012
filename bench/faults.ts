/**
 * Fault injection under load at full size (issue 16): the CI's `tests/e2e/faults-under-load.test.ts`
 * (3 seekers) with more seekers, run `runs` times on fresh stacks of its own. Every run kills the
 * application service, Synapse, PostgreSQL and LiveKit with SIGKILL at moments from its seed and
 * asserts afterwards that nothing was lost, doubled or stuck (the test's own checks). Printed per
 * run: pass or fail, wall time, the seed (to replay: CONNECTA_FAULT_SEED), the faults and what the
 * load met (requests retried, messages resent, sync errors).
 *
 *   node bench/faults.ts [seekers=20] [runs=1]
 *   (in the environment ops/connecta sets up)
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { ROOT } from "../ops/stack/config.ts";

const SEEKERS = Number(process.argv[2] ?? 20);
const RUNS = Number(process.argv[3] ?? 1);

console.log(
  `faults under load: ${SEEKERS} seekers, ${RUNS} run(s); ${cpus().length} × ${cpus()[0]?.model ?? "?"}; ` +
    `load average ${loadavg()[0]?.toFixed(1)} before; ${new Date().toISOString()}`,
);
let failed = 0;
for (let run = 1; run <= RUNS; run++) {
  const started = performance.now();
  const result = spawnSync("npx", ["vitest", "run", "tests/e2e/faults-under-load.test.ts"], {
    cwd: ROOT,
    env: { ...process.env, CONNECTA_FAULT_SEEKERS: String(SEEKERS) },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const seconds = (performance.now() - started) / 1000;
  // The test's summary line (in its log, tests/support/quiet-logs.ts): the seed, each fault, and
  // what the load met.
  const output = `${result.stdout}\n${result.stderr}`;
  const logPath = join(ROOT, ".test-logs", "tests_e2e_faults-under-load.test.ts.log");
  const log = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
  const summary = log.split("\n").filter((line) => /faults-under-load: seed \d+;/.test(line));
  const passed = result.status === 0;
  if (!passed) failed++;
  console.log(`run ${run}: ${passed ? "passed" : "FAILED"} in ${seconds.toFixed(0)} s`);
  for (const line of summary) console.log(`  ${line.trim()}`);
  if (!passed) console.log(output.split("\n").slice(-60).join("\n"));
}
console.log(`load average ${loadavg()[0]?.toFixed(1)} after; ${failed} of ${RUNS} run(s) failed`);
process.exitCode = failed ? 1 : 0;
