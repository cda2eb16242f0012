/**
 * Liveness (`/healthz`: the process is up) and readiness (`/readyz`: PostgreSQL answers and
 * Synapse accepts our as_token).
 */
import { Router } from "express";
import type pg from "pg";
import type { Logger } from "pino";
import type { Homeserver } from "../matrix/homeserver.ts";

/** Routes of the health endpoints. */
export function healthRoutes(deps: { pool: pg.Pool; homeserver: Homeserver; log: Logger }): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const [database, homeserver] = await Promise.all([
      deps.pool.query("SELECT 1").then(
        () => "ok",
        (err: Error) => err.message,
      ),
      deps.homeserver.whoami().then(
        () => "ok",
        (err: Error) => err.message,
      ),
    ]);
    const ready = database === "ok" && homeserver === "ok";
    if (!ready) deps.log.warn({ database, homeserver }, "not ready");
    res.status(ready ? 200 : 503).json(
      ready
        ? { status: "ok" }
        : {
            errcode: "M_UNAVAILABLE",
            error: "Not ready",
            database: database === "ok" ? "ok" : "unavailable",
            homeserver: homeserver === "ok" ? "ok" : "unavailable",
          },
    );
  });
  return router;
}
