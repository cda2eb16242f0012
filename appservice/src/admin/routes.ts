/**
 * Operator routes (to be completed).
 */
import type { Api } from "../http/api.ts";
import type { FeatureDeps } from "../app.ts";

/** Adds the operator routes. */
export function adminRoutes(_api: Api, _deps: FeatureDeps): void {}
