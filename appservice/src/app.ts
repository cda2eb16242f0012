/**
 * The express application of the application service, assembled from its features.
 */
import { isUtf8 } from "node:buffer";
import express, { type Request } from "express";
import { adminRoutes } from "./admin/routes.ts";
import { refusalOf, type RefusalLog } from "./audit/refusals.ts";
import { createAuthenticator } from "./auth/authenticate.ts";
import { brakeSettings, routeBrake, tokenCheckBrake } from "./auth/brakes.ts";
import { controlRoutes } from "./control/routes.ts";
import { counsellorSelfRoutes } from "./counsellors/routes.ts";
import type { FeatureDeps } from "./deps.ts";
import { refusalError } from "./enquiries/refusal.ts";
import { enquiryRoutes } from "./enquiries/routes.ts";
import type { Workflow } from "./enquiries/workflow.ts";
import { healthRoutes } from "./health/health.ts";
import { Api, noStore } from "./http/api.ts";
import { errorHandler, notFound } from "./http/errors.ts";
import { trustedProxies } from "./intake/client-address.ts";
import { intakeRoutes } from "./intake/routes.ts";
import { mediaRoutes } from "./retention/media.ts";
import { privacyRoutes } from "./retention/privacy.ts";
import { rtcRoutes } from "./rtc/routes.ts";
import { transactionRoutes, type EventHandler } from "./transactions/transactions.ts";

/** Everything the app needs from outside. */
export interface AppDeps extends FeatureDeps {
  /** The counselling workflow (one per process, shared with the control rooms' worker). */
  workflow: Workflow;
  handle: EventHandler;
  /** Where refused tokens and callers are counted for the security event log (one per process). */
  refusals: RefusalLog;
}

/** Transactions carry at most 100 PDUs and 100 EDUs; Synapse's own event size limit is 64 KiB. */
const MAX_TRANSACTION_BODY = "20mb";
/** Our own API takes small JSON bodies only. */
const MAX_API_BODY = "64kb";

/**
 * Our API takes JSON in UTF-8 only (RFC 8259): another charset, or bytes that are no UTF-8, are
 * refused (M_NOT_JSON, http/errors.ts) instead of being decoded into U+FFFD and stored
 * (tests/attack/bodies.test.ts, A-BODY-03). Runs on the raw body, after decompression.
 */
function utf8Only(_req: Request, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding.toLowerCase() !== "utf-8" || !isUtf8(body)) throw new Error("The request body is not UTF-8");
}

/** Title and version of the OpenAPI document. */
export const API_INFO = { title: "Connecta application service API", version: "1" };

/**
 * Adds every route of our API. Routes read their dependencies when called, never while being
 * added, so that `describeApi` (http/contract.ts) can describe them without any.
 */
export function addRoutes(api: Api, deps: AppDeps): void {
  intakeRoutes(api, deps);
  enquiryRoutes(api, deps.workflow);
  mediaRoutes(api, deps);
  privacyRoutes(api, deps);
  rtcRoutes(api, deps);
  counsellorSelfRoutes(api, deps);
  controlRoutes(api, deps);
  adminRoutes(api, deps);
}

/** Builds the express app. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.set("trust proxy", false);
  app.use(healthRoutes(deps));
  app.get("/metrics", async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  app.use(["/_matrix/app", "/transactions"], express.json({ limit: MAX_TRANSACTION_BODY, strict: false }));
  app.use(transactionRoutes({ ...deps, hsToken: deps.config.hsToken }));

  const isTrustedProxy = trustedProxies(deps.config.trustedProxies);
  const brakes = brakeSettings(deps.config);
  const api = new Api(
    createAuthenticator(
      deps.config.homeserverUrl,
      deps.config.operatorToken,
      tokenCheckBrake(deps.pool, brakes, isTrustedProxy),
    ),
    routeBrake(deps.pool, brakes, isTrustedProxy),
  );
  addRoutes(api, deps);
  app.use(["/api", "/_matrix/client"], noStore);
  const openapi = api.openapi(API_INFO);
  app.get("/api/v1/openapi.json", (_req, res) => {
    res.json(openapi);
  });
  app.use(["/api", "/_matrix/client"], express.json({ limit: MAX_API_BODY, strict: true, verify: utf8Only }));
  app.use(api.router);

  app.use(notFound);
  app.use(
    errorHandler(
      deps.log,
      refusalError,
      (err, req) => {
        const refusal = refusalOf(err, req, isTrustedProxy);
        if (refusal) deps.refusals.note(refusal);
      },
      deps.metrics.apiErrors,
    ),
  );
  return app;
}
