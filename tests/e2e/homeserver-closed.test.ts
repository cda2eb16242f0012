import { beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";

const stack = inject("stack");

/**
 * POST /register; other test files register seekers from the same address meanwhile, so this
 * waits out Synapse's registration limit (rc_registration) if they spent it.
 */
const register = (query: string, body: Record<string, unknown>) =>
  eventually("an answer other than 429", async () => {
    const res = await matrixRequest(stack, "POST", `/_matrix/client/v3/register${query}`, null, body);
    return res.status === 429 ? null : res;
  });
let user: TestUser;
/** A server admin (as the workflow's bot is): the only kind of user besides the bot who creates rooms. */
let admin: TestUser;

beforeAll(async () => {
  [user, admin] = await Promise.all([registerUser(stack, "closed"), registerUser(stack, "closed-admin", true)]);
});

describe("the homeserver is closed", () => {
  it("does not serve the federation API", async () => {
    for (const path of ["/_matrix/federation/v1/version", "/_matrix/key/v2/server"]) {
      const res = await fetch(`${stack.synapseUrl}${path}`);
      expect(res.status, path).toBe(404);
    }
  });

  it("serves the OpenID userinfo endpoint and validates tokens through it", async () => {
    const forged = await fetch(`${stack.synapseUrl}/_matrix/federation/v1/openid/userinfo?access_token=forged`);
    expect(forged.status).toBe(401);
    const issued = await matrixRequest(
      stack,
      "POST",
      `/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/openid/request_token`,
      user,
      {},
    );
    expect(issued.status).toBe(200);
    const res = await fetch(
      `${stack.synapseUrl}/_matrix/federation/v1/openid/userinfo?access_token=${String(issued.body.access_token)}`,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ sub: user.userId });
  });

  it("refuses registration without a registration token", async () => {
    const open = await register("", { username: "intruder", password: "a-long-password-123" });
    expect(open.status).toBe(401);
    expect(open.body.access_token).toBeUndefined();
    // Every way through user-interactive auth needs a registration token.
    const flows = open.body.flows as { stages: string[] }[];
    expect(flows.length).toBeGreaterThan(0);
    for (const flow of flows) expect(flow.stages).toContain("m.login.registration_token");

    const forged = await register("", {
      username: "intruder",
      password: "a-long-password-123",
      auth: { type: "m.login.registration_token", token: "forged", session: open.body.session },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.access_token).toBeUndefined();

    const guest = await register("?kind=guest", {});
    expect(guest.status).toBe(403);
  });

  it("encrypts a new room without being asked", async () => {
    const created = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", admin, {
      preset: "private_chat",
    });
    expect(created.status).toBe(200);
    const roomId = encodeURIComponent(String(created.body.room_id));
    const state = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${roomId}/state/m.room.encryption/`,
      admin,
    );
    expect(state.status).toBe(200);
    expect(state.body.algorithm).toBe("m.megolm.v1.aes-sha2");
  });

  it("has URL previews switched off", async () => {
    const res = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(stack.clientUrl)}`,
      user,
    );
    expect(res.status).toBe(404);
    expect(res.body.errcode).toBe("M_UNRECOGNIZED");
  });

  it("publishes no room in the directory and creates no aliases", async () => {
    const refused = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", user, {
      preset: "public_chat",
      visibility: "public",
    });
    expect(refused.status).toBe(403);
    // Not even a server admin's room gets into the directory or an alias.
    const created = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", admin, {});
    expect(created.status).toBe(200);
    const roomId = String(created.body.room_id);
    const published = await matrixRequest(
      stack,
      "PUT",
      `/_matrix/client/v3/directory/list/room/${encodeURIComponent(roomId)}`,
      admin,
      { visibility: "public" },
    );
    expect(published.status).toBe(403);
    const directory = await matrixRequest(stack, "GET", "/_matrix/client/v3/publicRooms", user);
    expect(directory.body.chunk).toEqual([]);
    for (const who of [user, admin]) {
      const alias = await matrixRequest(
        stack,
        "PUT",
        `/_matrix/client/v3/directory/room/${encodeURIComponent(`#test:${stack.serverName}`)}`,
        who,
        { room_id: roomId },
      );
      expect(alias.status).toBe(403);
    }
  });

  it("refuses Synapse's shared-secret registration (the admin API itself stays served, see docs)", async () => {
    const url = `${stack.synapseUrl}/_synapse/admin/v1/register`;
    const { nonce } = (await (await fetch(url)).json()) as { nonce: string };
    const res = await matrixRequest(stack, "POST", "/_synapse/admin/v1/register", null, {
      nonce,
      username: "intruder",
      password: "a-long-password-123",
      admin: true,
      mac: "0".repeat(40),
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("Shared secret registration is not enabled");
    // What the shipped layout serves besides: the admin API answers, but only to admins.
    const users = await matrixRequest(stack, "GET", "/_synapse/admin/v2/users", user);
    expect([users.status, users.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    const anonymous = await matrixRequest(stack, "GET", "/_synapse/admin/v2/users", null);
    expect(anonymous.status).toBe(401);
  });

  it("offers no user directory search", async () => {
    // Someone a directory would list: Synapse's (with search_all_users off, as by default) shows
    // the users one shares a room with. `admin` shares one with `user`, and `user` may read
    // their profile: the search below would find them if the directory were on.
    const created = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", admin, {
      invite: [user.userId],
    });
    expect(created.status).toBe(200);
    const roomId = encodeURIComponent(String(created.body.room_id));
    expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${roomId}`, user, {})).status).toBe(200);
    const profile = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/profile/${encodeURIComponent(admin.userId)}`,
      user,
    );
    expect([profile.status, profile.body.displayname]).toEqual([200, admin.localpart]);

    for (const term of [admin.localpart, admin.userId, "closed"]) {
      const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/user_directory/search", user, {
        search_term: term,
      });
      expect([term, res.status, res.body.results]).toEqual([term, 200, []]);
    }
  });
});
