/**
 * Queue, claim, handover, close and reopen (to be completed).
 */
import type { Api } from "../http/api.ts";
import type { FeatureDeps } from "../app.ts";

/** Adds the enquiry routes. */
export function enquiryRoutes(_api: Api, _deps: FeatureDeps): void {}
