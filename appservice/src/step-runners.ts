/**
 * The runner of every kind of step (steps/steps.ts): the rooms' (enquiries/rooms.ts) and the
 * purges' (retention/purge.ts). The compiler checks that no kind is left without one.
 */
import { roomStepRunners } from "./enquiries/rooms.ts";
import type { Homeserver } from "./matrix/homeserver.ts";
import { purgeStepRunners } from "./retention/purge.ts";
import { callControl, type Livekit } from "./rtc/calls.ts";
import type { StepRunners } from "./steps/steps.ts";

/** The runners, acting on `hs` (of `serverName`) and the calls of `livekit` (none: null). */
export function stepRunners(hs: Homeserver, serverName: string, livekit: Livekit | null): StepRunners {
  return { ...roomStepRunners(hs, callControl(livekit, hs)), ...purgeStepRunners(hs, serverName) };
}
