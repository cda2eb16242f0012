// The LiveKit token of a call, from the call token service on our origin (appservice/src/rtc/):
// it checks with the homeserver, by our OpenID token, that we are the seeker or the assigned
// counsellor of the conversation and joined to its room. We ask with the request that goes with
// our kind of membership (legacy `m.call.member` state): `/sfu/get`, whose LiveKit identity is
// `<user id>:<device id>`, the one Element Call and matrix-js-sdk bind our media key to
// (identity.ts). MSC4195's `get_token` signs a hashed identity nobody else would look for.
import { openIdToken, send, type Answer } from "../api/connecta.ts";
import { ApiProblem, jsonRequest } from "../api/http.ts";
import type { Session } from "../session/session.ts";
import type { CallMemberId } from "./identity.ts";

/** Where the token service answers (forwarded to the application service). */
export const TOKEN_PATH = "/api/v1/rtc/sfu/get";

/** The server name of a Matrix user id (`@name:server` → `server`). */
export const serverNameOf = (userId: string): string => userId.slice(userId.indexOf(":") + 1);

/** The body of a token request for `member` in the call of `roomId` (the room's own call). */
export function tokenRequest(roomId: string, member: CallMemberId, openId: string) {
  return {
    room: roomId,
    openid_token: {
      access_token: openId,
      token_type: "Bearer",
      matrix_server_name: serverNameOf(member.userId),
      expires_in: 3600,
    },
    device_id: member.deviceId,
  };
}

/**
 * How long a seeker's token request waits for their counsellor to be connected to the call
 * (`CONNECTA_NO_CALL`): the counsellor's membership, which rings, is announced a moment before
 * their browser has connected to LiveKit.
 */
export const NOT_STARTED_WAIT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * LiveKit's WebSocket URL and a token for `member` in the call of `roomId`.
 *
 * @throws ApiProblem when the service refuses (e.g. 409 `CONNECTA_WRONG_STATE` when the
 * conversation is not in counselling, `CONNECTA_NO_CALL` when a seeker's counsellor has not
 * started the call within {@link NOT_STARTED_WAIT_MS})
 */
export async function callToken(
  session: Session,
  roomId: string,
  member: CallMemberId,
  waitMs = NOT_STARTED_WAIT_MS,
): Promise<{ url: string; jwt: string }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const res = await jsonRequest(TOKEN_PATH, "POST", tokenRequest(roomId, member, await openIdToken(session)));
    if (res.status === 200 && typeof res.body.url === "string" && typeof res.body.jwt === "string")
      return { url: res.body.url, jwt: res.body.jwt };
    if (res.body.errcode !== "CONNECTA_NO_CALL" || Date.now() >= deadline) throw new ApiProblem(res);
    await sleep(1000);
  }
}

/** Whether this server has calls and whether seekers may start one (the operator's setting). */
export async function callSettings(): Promise<Answer<"GET /api/v1/rtc/settings">> {
  const res = await send("GET /api/v1/rtc/settings", {});
  if (res.status !== 200) throw new ApiProblem(res);
  return res.body as Answer<"GET /api/v1/rtc/settings">;
}
