/**
 * The call token service (docs/calls.md), speaking what Element Call and matrix-js-sdk speak
 * (MSC4195): `POST /api/v1/rtc/get_token` and the older `POST /api/v1/rtc/sfu/get`, each with
 * a Matrix OpenID token in the body, and the homeserver's own token endpoint, which Synapse
 * forwards to us (MSC4512: `/_matrix/client/.../rtc/livekit/get_token`, authenticated by
 * Synapse, which names the user). All three ask the workflow who may call (calls.ts). The LiveKit
 * room and identity are derived as the clients derive them (identity.ts).
 */
import { timingSafeEqual } from "node:crypto";
import type { Request } from "express";
import { z } from "zod";
import { createOpenIdVerifier } from "../auth/authenticate.ts";
import { brakeSettings, tokenCheckBrake } from "../auth/brakes.ts";
import type { FeatureDeps } from "../deps.ts";
import type { Api } from "../http/api.ts";
import { MatrixError } from "../http/errors.ts";
import { trustedProxies } from "../intake/client-address.ts";
import { callToken, checkCaller, checkStarted, type Livekit } from "./calls.ts";
import { legacyIdentity, livekitIdentity, livekitRoom, ROOM_SLOT } from "./identity.ts";

const TAG = "calls";
const roomId = z
  .string()
  .max(255)
  // Room version 12 ids have no server name part: `!` and the hash.
  .regex(/^![!-~]{1,254}$/, "expected a Matrix room id");
/**
 * Device and MatrixRTC member ids become LiveKit identities (the older request's in the clear,
 * `user:device`) and log fields: printable ASCII only, as Synapse's and the SDK's ids are.
 */
const deviceId = z.string().regex(/^[!-~]{1,255}$/, "expected a device id");
const memberId = z.string().regex(/^[!-~]{1,255}$/, "expected a member id");
const OpenIdToken = z.object({
  access_token: z.string().min(1).max(512),
  token_type: z.string().max(50).optional(),
  matrix_server_name: z.string().min(1).max(255),
  expires_in: z.number().optional(),
});
/** Only the room's call: the one slot our rooms have. */
const slotId = z.literal(ROOM_SLOT, { message: `only the room's call (${ROOM_SLOT}) is served` });

const CallAccess = z
  .object({ url: z.string().describe("LiveKit's WebSocket URL"), jwt: z.string().describe("LiveKit access token") })
  .meta({ id: "CallAccess" });

/** The paths under which the homeserver forwards its token endpoint (MSC4512), stable and unstable. */
export const PROXIED_TOKEN_PATHS = [
  "/_matrix/client/unstable/io.element.msc4195/rtc/livekit/get_token",
  "/_matrix/client/v1/rtc/livekit/get_token",
];

/** Adds the call routes. */
export function rtcRoutes(api: Api, deps: FeatureDeps): void {
  let verify: ReturnType<typeof createOpenIdVerifier> | undefined;
  let brake: ((req: Request) => Promise<void>) | undefined;
  const livekit = (): Livekit => {
    if (!deps.config.livekit) throw new MatrixError("M_NOT_FOUND", "Calls are not set up on this server");
    return deps.config.livekit;
  };
  /** Refuses unless `userId` may join the call of Matrix room `roomId` (LiveKit room `room`) now. */
  const mayJoin = async (config: Livekit, userId: string, roomId: string, room: string): Promise<void> => {
    const { counsellorId } = await checkCaller(deps.pool, deps.homeserver, userId, roomId);
    await checkStarted(config, room, userId, counsellorId);
  };
  /**
   * The user an OpenID token of our server belongs to; a token not checked in the last minute
   * spends the budget of the client address of `req` (auth/brakes.ts), as on our other routes.
   */
  const openIdUser = async (token: z.infer<typeof OpenIdToken>, req: Request): Promise<string> => {
    if (token.matrix_server_name !== deps.config.serverName) {
      throw new MatrixError("M_FORBIDDEN", "Only users of this server take part in its calls");
    }
    verify ??= createOpenIdVerifier(deps.config.homeserverUrl);
    const counted = (brake ??= tokenCheckBrake(
      deps.pool,
      brakeSettings(deps.config),
      trustedProxies(deps.config.trustedProxies),
    ));
    return verify(token.access_token, () => counted(req));
  };

  api.add({
    method: "get",
    path: "/api/v1/rtc/settings",
    summary: "Whether this server has calls, and whether seekers may start one or only join their counsellor's",
    tag: TAG,
    auth: "none",
    query: z.strictObject({}),
    response: z.object({
      calls: z.boolean().describe("Whether calls are set up"),
      seekers_start: z.boolean().describe("Whether seekers may start a call (CONNECTA_CALLS_SEEKERS_START)"),
    }),
    errors: [],
    handler: () =>
      Promise.resolve({
        calls: deps.config.livekit !== null,
        seekers_start: deps.config.livekit?.seekersStart ?? false,
      }),
  });

  api.add({
    method: "post",
    path: "/api/v1/rtc/get_token",
    summary: "A LiveKit token for the caller's MatrixRTC membership in an enquiry's call (MSC4195)",
    tag: TAG,
    auth: "none",
    body: z.object({
      room_id: roomId,
      slot_id: slotId,
      openid_token: OpenIdToken,
      member: z.object({
        id: memberId,
        claimed_user_id: z.string().max(255),
        claimed_device_id: deviceId,
      }),
    }),
    response: CallAccess,
    errors: [
      "M_UNKNOWN_TOKEN",
      "M_FORBIDDEN",
      "M_NOT_FOUND",
      "CONNECTA_WRONG_STATE",
      "CONNECTA_NO_CALL",
      "M_UNAVAILABLE",
    ],
    handler: async ({ body, req }) => {
      const config = livekit();
      const userId = await openIdUser(body.openid_token, req);
      if (body.member.claimed_user_id !== userId) {
        throw new MatrixError("M_FORBIDDEN", "The claimed user is not the OpenID token's");
      }
      const room = livekitRoom(body.room_id, body.slot_id);
      await mayJoin(config, userId, body.room_id, room);
      return callToken(config, {
        room,
        identity: livekitIdentity(userId, body.member.claimed_device_id, body.member.id),
        userId,
      });
    },
  });

  api.add({
    method: "post",
    path: "/api/v1/rtc/sfu/get",
    summary: "A LiveKit token for the caller's device in an enquiry's call (the older request of Element Call)",
    tag: TAG,
    auth: "none",
    body: z.object({ room: roomId, openid_token: OpenIdToken, device_id: deviceId }),
    response: CallAccess,
    errors: [
      "M_UNKNOWN_TOKEN",
      "M_FORBIDDEN",
      "M_NOT_FOUND",
      "CONNECTA_WRONG_STATE",
      "CONNECTA_NO_CALL",
      "M_UNAVAILABLE",
    ],
    handler: async ({ body, req }) => {
      const config = livekit();
      const userId = await openIdUser(body.openid_token, req);
      const room = livekitRoom(body.room, ROOM_SLOT);
      await mayJoin(config, userId, body.room, room);
      return callToken(config, {
        room,
        identity: legacyIdentity(userId, body.device_id),
        userId,
      });
    },
  });

  /** The user Synapse names for a request it forwards; refuses a request that is not Synapse's. */
  const forwardedUser = (req: Request): string => {
    const given = Buffer.from(req.get("authorization") ?? "");
    const expected = Buffer.from(`Bearer ${deps.config.hsToken}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new MatrixError("M_FORBIDDEN", "Only the homeserver forwards to this path");
    }
    const userId = req.get("x-matrix-user-identifier") ?? "";
    if (!userId.endsWith(`:${deps.config.serverName}`)) {
      throw new MatrixError("M_FORBIDDEN", "Only users of this server take part in its calls");
    }
    return userId;
  };

  for (const path of PROXIED_TOKEN_PATHS) {
    api.add({
      method: "post",
      path,
      summary: "The homeserver's LiveKit token endpoint (MSC4195), forwarded to us by Synapse (MSC4512)",
      tag: TAG,
      auth: "none",
      body: z.object({
        url: z.string().max(2000),
        room_id: roomId,
        slot_id: slotId,
        member: z.object({ id: memberId, claimed_device_id: deviceId }),
      }),
      response: z.object({ jwt: z.string() }),
      errors: ["M_FORBIDDEN", "M_NOT_FOUND", "M_INVALID_PARAM", "CONNECTA_WRONG_STATE", "CONNECTA_NO_CALL"],
      handler: async ({ body, req }) => {
        const config = livekit();
        const userId = forwardedUser(req);
        if (body.url !== config.url) throw new MatrixError("M_INVALID_PARAM", "Not this server's LiveKit");
        const room = livekitRoom(body.room_id, body.slot_id);
        await mayJoin(config, userId, body.room_id, room);
        const { jwt } = await callToken(config, {
          room,
          identity: livekitIdentity(userId, body.member.claimed_device_id, body.member.id),
          userId,
        });
        return { jwt };
      },
    });
  }
}
