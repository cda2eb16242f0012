import { writeSync } from "node:fs";

/**
 * Fault injection for the crash tests: `CONNECTA_FAULT_KILL_AT` names points (comma-separated)
 * at which the process kills itself with SIGKILL, as a power cut would. Never set in
 * production; unset, this costs one Set lookup.
 *
 * Points: `claim_committed`, `handover_committed`, `intake_committed`, and `step:<kind>` (after
 * the step's Matrix call, before it is recorded as done). Before it dies, the process writes
 * `CONNECTA_FAULT <point> <subject>` to stderr, so that a test can prove it died on its own
 * enquiry and not on someone else's.
 */
const points = new Set(
  (process.env.CONNECTA_FAULT_KILL_AT ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean),
);

/** Kills this process at once if `point` is armed; `subject` names what it was doing (`enquiry=12`). */
export function faultPoint(point: string, subject: string): void {
  if (!points.has(point)) return;
  writeSync(2, `CONNECTA_FAULT ${point} ${subject}\n`);
  process.kill(process.pid, "SIGKILL");
}

/** True when any fault point is armed. */
export function faultsArmed(): boolean {
  return points.size > 0;
}
