/**
 * HTTP route of the control rooms: a counsellor's client (or an operator's tool on their behalf)
 * asks for the counsellor's control room; the first call creates it (see rooms.ts).
 */
import { z } from "zod";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { HomeserverError } from "../matrix/homeserver.ts";
import { ensureControlRoom } from "./rooms.ts";

/** Adds the control-room route. */
export function controlRoutes(api: Api, deps: FeatureDeps): void {
  api.add({
    method: "post",
    path: "/api/v1/control-room",
    summary:
      "The caller's control room (counsellors only): an unencrypted room with Connecta for the commands " +
      "queue, take, handover, close and help. Created and the caller invited on the first call; later calls " +
      "return it (and invite the caller again if they left it).",
    tag: "counselling",
    auth: "user",
    body: z.strictObject({}),
    response: z.object({ room_id: z.string() }),
    errors: ["M_FORBIDDEN", "M_UNAVAILABLE"],
    handler: async ({ userId }) => {
      try {
        return { room_id: await ensureControlRoom(deps, String(userId)) };
      } catch (err) {
        if (!(err instanceof HomeserverError)) throw err;
        deps.log.warn({ err: err.message }, "control room not ready");
        throw new MatrixError("M_UNAVAILABLE", "The homeserver did not finish the control room; please try again");
      }
    },
  });
}
