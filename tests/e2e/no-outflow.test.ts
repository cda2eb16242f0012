/**
 * No outflow, proven on the network: the whole stack (PostgreSQL, Synapse, LiveKit, the
 * application service, the web client) and the browser journey of client-journey.test.ts run
 * inside a network namespace that has nothing but loopback (`unshare --net`), under `strace`,
 * which records every connect, sendto and sendmsg of every process (Chromium's too). The journey
 * must pass there, and the socket log must show no connection and no datagram to any address but
 * loopback, and no DNS lookup at all (port 53, wherever it would go).
 *
 * The journey starts its own stack in the namespace (its global setup); this file's stack only
 * hosts this test. Needs root (a network namespace) and strace, which `ops/connecta test`
 * installs.
 */
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../ops/stack/config.ts";
import { socketTargets, type SocketTarget } from "../support/outflow.ts";

/**
 * Chromium's network service connects a UDP socket to Google's public DNS address once to learn
 * whether this machine has IPv6 (HostResolverManager's reachability probe). A connect of a
 * datagram socket sends no packet; it only picks a route, which fails here. The only exception
 * from "nothing tries to leave", and only in this form.
 */
function isReachabilityProbe(t: SocketTarget): boolean {
  return t.syscall === "connect" && t.datagram && t.address === "2001:4860:4860::8888";
}

const runDir = join(ROOT, ".data", "no-outflow", `${new Date().toISOString().replace(/[:.]/g, "-")}-${process.pid}`);

/** Runs `args` in a fresh network namespace with loopback up, under strace; resolves with the exit code. */
function inLoopbackOnlyNamespace(args: string[], traceFile: string, outputFile: string): Promise<number | null> {
  const script = 'ip link set lo up && exec "$@"';
  const child = spawn(
    "unshare",
    [
      "--net",
      "--",
      "sh",
      "-c",
      script,
      "sh",
      "strace",
      "-f",
      "--seccomp-bpf",
      "-qq",
      "-e",
      "trace=socket,connect,sendto,sendmsg,sendmmsg",
      "-e",
      "signal=none",
      "-o",
      traceFile,
      "--",
      ...args,
    ],
    {
      cwd: ROOT,
      // The journey's own log lines go to this run's output file instead of .test-logs/, which
      // the outer run's copy of the same test file writes.
      env: { ...process.env, CONNECTA_TEST_VERBOSE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = createWriteStream(outputFile);
  child.stdout.pipe(output);
  child.stderr.pipe(output);
  return new Promise((resolve) => child.on("close", (code) => resolve(code)));
}

describe("no outflow", () => {
  it("runs the whole stack and the browser journey with only loopback, and nothing tries to leave", async () => {
    mkdirSync(runDir, { recursive: true });
    const traceFile = join(runDir, "sockets.strace");
    const outputFile = join(runDir, "journey.log");
    const code = await inLoopbackOnlyNamespace(
      [process.execPath, join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "tests/e2e/client-journey.test.ts"],
      traceFile,
      outputFile,
    );
    const tail = readFileSync(outputFile, "utf8").split("\n").slice(-60).join("\n");
    expect(code, `the journey in the namespace failed; ${outputFile}:\n${tail}`).toBe(0);

    const targets = socketTargets(readFileSync(traceFile, "utf8"));
    // Positive control: the trace saw the stack at work (the browser and the services talking
    // over loopback to PostgreSQL, Synapse and the web client), so an empty list below means
    // something.
    const loopback = targets.filter((t) => t.loopback);
    expect(loopback.length, "loopback connections traced").toBeGreaterThan(100);
    expect(new Set(loopback.map((t) => t.syscall))).toContain("connect");
    const outside = (t: SocketTarget) => (!t.loopback && !isReachabilityProbe(t)) || t.port === 53;
    expect(targets.filter(outside).map((t) => t.line)).toEqual([]);
  }, 1_800_000);
});
