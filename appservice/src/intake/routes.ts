/**
 * Anonymous intake routes (to be completed).
 */
import type { Api } from "../http/api.ts";
import type { FeatureDeps } from "../app.ts";

/** Adds the intake routes. */
export function intakeRoutes(_api: Api, _deps: FeatureDeps): void {}
