import { describe, expect, it } from "vitest";
import { serverNameOf, tokenRequest } from "./token.ts";

describe("tokenRequest", () => {
  it("asks for the room's own call as the membership's member, with the OpenID token of our server", () => {
    const member = { userId: "@berater:connecta.test", deviceId: "DEV", memberId: "@berater:connecta.test:DEV" };
    expect(tokenRequest("!raum:connecta.test", member, "oidc")).toEqual({
      room_id: "!raum:connecta.test",
      slot_id: "m.call#ROOM",
      openid_token: {
        access_token: "oidc",
        token_type: "Bearer",
        matrix_server_name: "connecta.test",
        expires_in: 3600,
      },
      member: { id: "@berater:connecta.test:DEV", claimed_user_id: "@berater:connecta.test", claimed_device_id: "DEV" },
    });
  });

  it("keeps a port in the server name", () => {
    expect(serverNameOf("@a:localhost:8448")).toBe("localhost:8448");
  });
});
