/**
 * Child processes of the stack: started with their output in a log file, watched, stopped in
 * order. Nothing here knows about a particular service.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { createWriteStream, fchmodSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A running service process. */
export interface Service {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal name) when the process has ended. */
  exited: Promise<number | string>;
  logFile: string;
}

/** Starts `command` with stdout and stderr appended to `logFile` (readable by its owner only). */
export function startService(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  options: SpawnOptions = {},
): Service {
  const fd = openSync(logFile, "a", 0o600);
  fchmodSync(fd, 0o600);
  const log = createWriteStream("", { fd });
  // detached: its own process group, so a Ctrl-C in the terminal reaches only the stack, which
  // then stops the services in reverse order (Synapse before its database).
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (err) => {
      log.write(`failed to start ${command}: ${err.message}\n`);
      resolve("spawn-error");
    });
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  // Ended once the pipes are closed ("close"), not at "exit": a killed process group's output can
  // still arrive after the leader's exit (PostgreSQL's backends share its pipes).
  child.once("close", () => log.end());
  return { name, child, exited, logFile };
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopService(service: Service, signal: NodeJS.Signals = "SIGTERM", graceMs = 20_000) {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return service.exited;
  service.child.kill(signal);
  const timer = setTimeout(() => service.child.kill("SIGKILL"), graceMs);
  try {
    return await service.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` until it returns true. Fails early if `service` exits, and after `timeoutMs`,
 * naming the log file to read.
 */
export async function waitUntil(
  service: Service,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let ended = null as number | string | null;
  void service.exited.then((code) => (ended = code));
  while (Date.now() < deadline) {
    if (ended !== null) {
      throw new Error(`${service.name} exited (${ended}) before ${what}; see ${service.logFile}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(250);
  }
  throw new Error(`${service.name}: timed out waiting for ${what}; see ${service.logFile}`);
}

/** True when `url` answers with status 200. */
export async function answers200(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  await res.body?.cancel();
  return res.status === 200;
}

/**
 * Asks the kernel for `count` distinct free TCP ports on `host`. All are held open until all are
 * known: a port freed at once could be handed out again for the next one.
 */
export async function freePorts(host: string, count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, host, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (typeof address !== "object" || !address) throw new Error("no port");
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * A stack's port settings (the environment ops/stack reads) on {@link stablePorts}: for a stack
 * that is stopped or killed and must answer where it did before.
 */
export async function stablePortsEnv(host: string): Promise<Record<string, string>> {
  const keys = [
    "CONNECTA_PG_PORT",
    "CONNECTA_SYNAPSE_PORT",
    "CONNECTA_SYNAPSE_METRICS_PORT",
    "CONNECTA_APPSERVICE_PORT",
    "CONNECTA_CLIENT_PORT",
    "CONNECTA_LIVEKIT_PORT",
    "CONNECTA_LIVEKIT_TCP_PORT",
    "CONNECTA_LIVEKIT_UDP_PORT",
  ];
  const ports = await stablePorts(host, keys.length);
  return Object.fromEntries(keys.map((key, i) => [key, String(ports[i])]));
}

/**
 * `count` TCP ports free on `host` now, below the kernel's ephemeral range: a stack that must
 * come back on the same ports after a stop (a restore) keeps them free meanwhile, because the
 * kernel hands out ports for port-0 listeners and outgoing connections only from that range.
 * (freePorts' ports come from it, and under load another process takes one within minutes.)
 */
export async function stablePorts(host: string, count: number): Promise<number[]> {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: Linux's default.
  }
  const ports: number[] = [];
  for (let tries = 0; ports.length < count && tries < 1000; tries++) {
    const port = Math.max(1024, low - 12_000) + Math.floor(Math.random() * Math.min(12_000, low - 1024));
    if (ports.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (free) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free ports below ${low} on ${host}`);
  return ports;
}

/** Asks the kernel for a free TCP port on `host`. */
export async function freePort(host: string): Promise<number> {
  const [port] = await freePorts(host, 1);
  return port ?? 0;
}
