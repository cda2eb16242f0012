import { beforeAll, describe, expect, inject, it } from "vitest";
import { matrixRequest, registerUser, type TestUser } from "../support/matrix.ts";

const stack = inject("stack");
let user: TestUser;

beforeAll(async () => {
  user = await registerUser(stack, "closed");
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
    const open = await matrixRequest(stack, "POST", "/_matrix/client/v3/register", null, {
      username: "intruder",
      password: "a-long-password-123",
    });
    expect(open.status).toBe(401);
    expect(open.body.access_token).toBeUndefined();
    // Every way through user-interactive auth needs a registration token.
    const flows = open.body.flows as { stages: string[] }[];
    expect(flows.length).toBeGreaterThan(0);
    for (const flow of flows) expect(flow.stages).toContain("m.login.registration_token");

    const forged = await matrixRequest(stack, "POST", "/_matrix/client/v3/register", null, {
      username: "intruder",
      password: "a-long-password-123",
      auth: { type: "m.login.registration_token", token: "forged", session: open.body.session },
    });
    expect(forged.status).toBe(401);
    expect(forged.body.access_token).toBeUndefined();

    const guest = await matrixRequest(stack, "POST", "/_matrix/client/v3/register?kind=guest", null, {});
    expect(guest.status).toBe(403);
  });

  it("encrypts a new room without being asked", async () => {
    const created = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", user, {
      preset: "private_chat",
    });
    expect(created.status).toBe(200);
    const roomId = encodeURIComponent(String(created.body.room_id));
    const state = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${roomId}/state/m.room.encryption/`,
      user,
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
    const created = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", user, {
      preset: "public_chat",
      visibility: "public",
    });
    if (created.status === 200) {
      const roomId = String(created.body.room_id);
      const listed = await matrixRequest(
        stack,
        "GET",
        `/_matrix/client/v3/directory/list/room/${encodeURIComponent(roomId)}`,
        user,
      );
      expect(listed.body.visibility).toBe("private");
      const directory = await matrixRequest(stack, "GET", "/_matrix/client/v3/publicRooms", user);
      expect(directory.body.chunk).toEqual([]);
    } else {
      expect(created.status).toBe(403);
    }
    const room = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", user, {});
    const alias = await matrixRequest(
      stack,
      "PUT",
      `/_matrix/client/v3/directory/room/${encodeURIComponent(`#test:${stack.serverName}`)}`,
      user,
      { room_id: room.body.room_id },
    );
    expect(alias.status).toBe(403);
  });

  it("offers no user directory search", async () => {
    const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/user_directory/search", user, {
      search_term: "closed",
    });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
  });
});
