/**
 * Files of a conversation, as its members' clients report them after sending one: Synapse
 * cannot see them in encrypted events, and the purge (purge.ts) must delete them with the room.
 * Only the ids (mxc URIs), never content. Seeker and assigned counsellor may report, each only a
 * file they uploaded themselves: the purge deletes every reported file, and a file of another
 * conversation reported into one's own would go with it (tests/attack/seeker.test.ts, A-SEEK-04).
 * A room being purged takes no more.
 */
import type pg from "pg";
import { z } from "zod";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { HomeserverError, type Homeserver } from "../matrix/homeserver.ts";
import { EnquiryParams } from "../enquiries/schemas.ts";

/** Files one conversation may report: far more than a conversation sends, few enough to bound the table. */
export const MAX_MEDIA_PER_ENQUIRY = 2000;

/** Notes `mediaId` as a file of `enquiryId`, reported by `userId`; false when they may not. */
async function noteMedia(pool: pg.Pool, enquiryId: number, userId: string, mediaId: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO enquiry_media (enquiry_id, media_id)
     SELECT e.id, $3 FROM enquiries e
      WHERE e.id = $1 AND $2 IN (e.seeker_id, e.counsellor_id)
        AND NOT EXISTS (SELECT 1 FROM purges p WHERE p.enquiry_id = e.id)
        AND (SELECT count(*) FROM enquiry_media m WHERE m.enquiry_id = e.id) < $4
     ON CONFLICT DO NOTHING`,
    [enquiryId, userId, mediaId, MAX_MEDIA_PER_ENQUIRY],
  );
  if (rowCount) return true;
  // Already noted counts as done (a retried request).
  const known = await pool.query("SELECT 1 FROM enquiry_media WHERE enquiry_id = $1 AND media_id = $2", [
    enquiryId,
    mediaId,
  ]);
  return known.rowCount === 1;
}

/** Who uploaded the file `mediaId` of this server, as Synapse's admin API says; null when it has no such file. */
async function uploader(hs: Homeserver, serverName: string, mediaId: string): Promise<string | null> {
  const [origin, id] = mediaId.slice("mxc://".length).split("/");
  if (origin !== serverName || !id) return null;
  try {
    const info = await hs.request<{ media_info?: { user_id?: unknown } }>(
      "GET",
      `/_synapse/admin/v1/media/${encodeURIComponent(origin)}/${encodeURIComponent(id)}`,
    );
    return typeof info.media_info?.user_id === "string" ? info.media_info.user_id : null;
  } catch (err) {
    if (err instanceof HomeserverError && err.status === 404) return null;
    throw new MatrixError("M_UNAVAILABLE", "The homeserver is not reachable; please try again");
  }
}

/** Adds the route by which clients report a sent file. */
export function mediaRoutes(api: Api, deps: Pick<FeatureDeps, "pool" | "homeserver" | "config">): void {
  api.add({
    method: "post",
    path: "/api/v1/enquiries/{enquiryId}/media",
    summary:
      "Report a file sent in the enquiry's room (its mxc URI), so that it is deleted with the conversation. " +
      "Seeker and assigned counsellor only.",
    tag: "counselling",
    auth: "user",
    params: EnquiryParams,
    body: z.strictObject({
      media_id: z
        .string()
        .max(255)
        .regex(/^mxc:\/\/[A-Za-z0-9.:-]+\/[A-Za-z0-9_-]+$/, "expected an mxc:// URI"),
    }),
    response: z.object({}),
    errors: ["M_FORBIDDEN", "M_UNAVAILABLE"],
    handler: async ({ userId, params, body }) => {
      const own = (await uploader(deps.homeserver, deps.config.serverName, body.media_id)) === userId;
      if (!own || !(await noteMedia(deps.pool, params.enquiryId, String(userId), body.media_id))) {
        throw new MatrixError(
          "M_FORBIDDEN",
          "Only the conversation's seeker and counsellor report its files, each their own",
        );
      }
      return {};
    },
  });
}
