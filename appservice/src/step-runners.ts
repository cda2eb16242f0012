/**
 * The runner of every kind of step (steps/steps.ts): the rooms' (enquiries/rooms.ts) and the
 * purges' (retention/purge.ts). The compiler checks that no kind is left without one.
 */
import { roomStepRunners } from "./enquiries/rooms.ts";
import type { Homeserver } from "./matrix/homeserver.ts";
import { purgeStepRunners } from "./retention/purge.ts";
import type { StepRunners } from "./steps/steps.ts";

/** The runners, acting on `hs` (of `serverName`). */
export function stepRunners(hs: Homeserver, serverName: string): StepRunners {
  return { ...roomStepRunners(hs), ...purgeStepRunners(hs, serverName) };
}
