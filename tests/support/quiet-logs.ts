/**
 * Vitest setup file of the end-to-end tests: keeps the run's output readable. matrix-js-sdk
 * (its loggers look `console` up at every call), the Rust crypto's tracing and our helpers write
 * many lines per client; here everything a test file writes to `console` goes to
 * `.test-logs/<test file>.log` (git-ignored, rewritten by every run), and the file's path and
 * its last lines are printed only when a test in that file failed.
 *
 * `CONNECTA_TEST_VERBOSE=1` leaves `console` alone: the output is what it was before.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join, relative } from "node:path";
import { format } from "node:util";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";

/** Lines of a failed file's log shown in the output. */
const TAIL_LINES = 40;

if (!loadStackConfig().testVerbose) {
  let fd: number | null = null;
  let path = "";
  let failed = false;
  const methods = ["log", "info", "debug", "trace", "warn", "error"] as const;
  const original = Object.fromEntries(methods.map((m) => [m, console[m].bind(console)]));
  for (const method of methods) {
    console[method] = (...args: unknown[]) => {
      if (fd === null) return original[method]?.(...args);
      writeSync(fd, `${new Date().toISOString()} ${method}: ${format(...args)}\n`);
    };
  }

  // Vitest reads the first parameter's pattern for fixtures: it must be an (empty) destructuring.
  // eslint-disable-next-line no-empty-pattern
  beforeAll(({}, suite) => {
    const file = "filepath" in suite ? suite.filepath : suite.file.filepath;
    path = join(ROOT, ".test-logs", `${relative(ROOT, file).replaceAll("/", "_")}.log`);
    mkdirSync(join(ROOT, ".test-logs"), { recursive: true });
    fd = openSync(path, "w", 0o600);
  });
  beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));
  // eslint-disable-next-line no-empty-pattern
  afterAll(({}, suite) => {
    if (fd !== null) closeSync(fd);
    fd = null;
    if (!failed && suite.result?.state !== "fail") return;
    const tail = readFileSync(path, "utf8").trimEnd().split("\n").slice(-TAIL_LINES).join("\n");
    original.error?.(`log of this test file: ${path}\n--- last ${TAIL_LINES} lines ---\n${tail}`);
  });
}
