import { describe, expect, it } from "vitest";
import { serverNameOf, tokenRequest, TOKEN_PATH } from "./token.ts";

describe("tokenRequest", () => {
  it("asks the older endpoint for the room's call as our device, with the OpenID token of our server", () => {
    const member = { userId: "@berater:connecta.test", deviceId: "DEV", memberId: "@berater:connecta.test:DEV" };
    expect(TOKEN_PATH).toBe("/api/v1/rtc/sfu/get");
    expect(tokenRequest("!raum:connecta.test", member, "oidc")).toEqual({
      room: "!raum:connecta.test",
      openid_token: {
        access_token: "oidc",
        token_type: "Bearer",
        matrix_server_name: "connecta.test",
        expires_in: 3600,
      },
      device_id: "DEV",
    });
  });

  it("keeps a port in the server name", () => {
    expect(serverNameOf("@a:localhost:8448")).toBe("localhost:8448");
  });
});
