/**
 * Fault injection for the crash tests: `CONNECTA_FAULT_KILL_AT` names points (comma-separated)
 * at which the process kills itself with SIGKILL, as a power cut would. Never set in
 * production; unset, this costs one Set lookup.
 *
 * Points: `claim_committed`, `handover_committed`, `intake_committed`, and `step:<kind>` (after
 * the step's Matrix call, before it is recorded as done).
 */
const points = new Set(
  (process.env.CONNECTA_FAULT_KILL_AT ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean),
);

/** Kills this process at once if `point` is armed. */
export function faultPoint(point: string): void {
  if (points.has(point)) process.kill(process.pid, "SIGKILL");
}

/** True when any fault point is armed. */
export function faultsArmed(): boolean {
  return points.size > 0;
}
