/**
 * Operator routes of the security event log, under `/api/v1/admin/audit`: list the entries,
 * verify the chain. `connecta-admin audit list|verify` calls them. A broken chain is itself a
 * critical event (`audit.chain_broken`), so the webhook hears of it.
 */
import { z } from "zod";
import { PREFIX, TAG } from "../admin/common.ts";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { recordEvent } from "./audit.ts";
import { listEntries } from "./list.ts";
import { AuditEntryJson, ListQuery, VerifyAnswer } from "./schemas.ts";
import { verifyChain } from "./verify.ts";

/** Adds the audit routes. */
export function auditRoutes(api: Api, { pool, log }: FeatureDeps): void {
  api.add({
    method: "get",
    path: `${PREFIX}/audit`,
    summary: "List security events, newest first",
    tag: TAG,
    auth: "operator",
    query: ListQuery,
    response: z.object({ entries: z.array(AuditEntryJson) }),
    errors: [],
    handler: async ({ query }) => ({
      entries: await listEntries(pool, {
        since: query.since ?? null,
        atLeast: query.class ?? null,
        limit: query.limit ?? 100,
      }),
    }),
  });

  api.add({
    method: "get",
    path: `${PREFIX}/audit/verify`,
    summary: "Check the security event log's hash chain; names the first changed, removed or moved entry",
    tag: TAG,
    auth: "operator",
    query: z.strictObject({}),
    response: VerifyAnswer,
    errors: [],
    handler: async () => {
      const verdict = await verifyChain(pool);
      if (verdict.ok) return { ok: true, count: verdict.count, head: verdict.head, problem: null };
      log.error({ problem: verdict.problem }, "the security event log's chain is broken");
      await recordEvent(pool, { action: "audit.chain_broken", actor: "operator", target: verdict.problem.id });
      return { ok: false, count: verdict.count, head: null, problem: verdict.problem };
    },
  });
}
