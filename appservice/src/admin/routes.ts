/**
 * Operator routes under `/api/v1/admin/`: topics, agencies, counsellors, the queues, the
 * security event log and retention (retention/routes.ts). Every route needs the installation's
 * operator token (`Authorization: Bearer <token>`); the CLI in appservice/src/cli/admin.ts calls
 * them. See docs/operators.md.
 */
import { auditRoutes } from "../audit/routes.ts";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { agencyRoutes } from "./agencies.ts";
import { counsellorRoutes } from "./counsellors.ts";
import { queueRoutes } from "./queue.ts";
import { retentionRoutes } from "../retention/routes.ts";
import { topicRoutes } from "./topics.ts";

/** Adds the operator routes. */
export function adminRoutes(api: Api, deps: FeatureDeps): void {
  topicRoutes(api, deps);
  agencyRoutes(api, deps);
  counsellorRoutes(api, deps);
  queueRoutes(api, deps);
  retentionRoutes(api, deps);
  auditRoutes(api, deps);
}
