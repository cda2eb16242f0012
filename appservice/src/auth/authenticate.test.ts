/**
 * The OpenID check's answers to what Synapse says, with a loopback server standing in for
 * Synapse's `openid/userinfo` (its real answers are proven in tests/e2e/, e.g.
 * counsellor-self.test.ts): a token Synapse does not know is refused and remembered, Synapse
 * failing or busy is "try again", never "your token is bad".
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatrixError } from "../http/errors.ts";
import { createOpenIdVerifier } from "./authenticate.ts";

/** What the stand-in answers for each token, and how often it was asked. */
const answers: Record<string, { status: number; body: unknown }> = {
  good: { status: 200, body: { sub: "@seeker:test" } },
  unknown: { status: 401, body: { errcode: "M_UNKNOWN_TOKEN", error: "Unknown token" } },
  failing: { status: 500, body: { errcode: "M_UNKNOWN", error: "Internal server error" } },
  busy: { status: 429, body: { errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 1000 } },
};
const asked: string[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const token = new URL(req.url ?? "", "http://x").searchParams.get("access_token") ?? "";
    asked.push(token);
    const answer = answers[token] ?? answers.unknown;
    res.writeHead(answer?.status ?? 401, { "content-type": "application/json" });
    res.end(JSON.stringify(answer?.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const errcodeOf = (call: Promise<unknown>): Promise<string> =>
  call.then(
    () => "answered",
    (err: unknown) => (err instanceof MatrixError ? err.errcode : String(err)),
  );

describe("the OpenID check", () => {
  it("answers the user of a token Synapse knows, and asks again only after a minute", async () => {
    const verify = createOpenIdVerifier(url);
    asked.length = 0;
    expect(await verify("good")).toBe("@seeker:test");
    expect(await verify("good")).toBe("@seeker:test");
    expect(asked).toEqual(["good"]);
  });

  it("refuses a token Synapse does not know with M_UNKNOWN_TOKEN, remembered without asking again", async () => {
    const verify = createOpenIdVerifier(url);
    asked.length = 0;
    expect(await errcodeOf(verify("unknown"))).toBe("M_UNKNOWN_TOKEN");
    expect(await errcodeOf(verify("unknown"))).toBe("M_UNKNOWN_TOKEN");
    expect(asked).toEqual(["unknown"]);
  });

  it("answers M_UNAVAILABLE when Synapse fails or is busy, and asks again next time", async () => {
    const verify = createOpenIdVerifier(url);
    asked.length = 0;
    expect(await errcodeOf(verify("failing"))).toBe("M_UNAVAILABLE");
    expect(await errcodeOf(verify("busy"))).toBe("M_UNAVAILABLE");
    expect(await errcodeOf(verify("failing"))).toBe("M_UNAVAILABLE");
    expect(asked).toEqual(["failing", "busy", "failing"]);
  });

  it("answers M_UNAVAILABLE when Synapse cannot be reached", async () => {
    const verify = createOpenIdVerifier("http://127.0.0.1:1");
    expect(await errcodeOf(verify("good"))).toBe("M_UNAVAILABLE");
  });
});
