import { mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadStackConfig, ROOT } from "../../ops/stack/config.ts";
import { freshStackEnv, launchStack, removeStackData } from "../support/global-setup.ts";
import { matrixRequest, registerUser } from "../support/matrix.ts";
import type { StackInfo } from "../../ops/stack/stack.ts";

const dataDir = mkdtempSync(join(ROOT, ".data", "lifecycle-"));
let postgresDir = dataDir;
afterAll(() => {
  if (!loadStackConfig().keepTestData) removeStackData({ dataDir, postgresDir });
});

/** Runs the README's start command in `dataDir` on free ports. */
function startCommand() {
  return launchStack("bash", [join(ROOT, "ops", "connecta"), "start"], freshStackEnv(dataDir));
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

function ports(info: StackInfo): number[] {
  return [
    info.pgPort,
    ...[info.synapseUrl, info.appserviceUrl, info.clientUrl, info.livekitUrl].map((u) => Number(new URL(u).port)),
  ];
}

describe("ops/connecta start", () => {
  it("starts all five components, stops them on Ctrl-C, and keeps all data for the next start", async () => {
    const first = startCommand();
    const info = await first.ready;
    postgresDir = info.postgresDir;
    for (const url of [
      `${info.synapseUrl}/_matrix/client/versions`,
      `${info.appserviceUrl}/readyz`,
      `${info.clientUrl}/`,
      `${info.livekitUrl}/`,
    ]) {
      expect((await fetch(url)).status, url).toBe(200);
    }
    // It prints where each component is, LiveKit's WebSocket for calls too.
    expect(first.output.join("")).toContain(`LiveKit (calls)      ${info.livekitUrl.replace(/^http/, "ws")}`);
    const user = await registerUser(info, "lifecycle");
    const hsToken = readFileSync(info.secretFiles.hsToken, "utf8");

    expect(await first.stop(), first.output.join("")).toBe(0);
    for (const port of ports(info)) expect(await portOpen(info.bindAddress, port), `port ${port}`).toBe(false);

    const second = startCommand();
    try {
      const again = await second.ready;
      const login = await matrixRequest(again, "POST", "/_matrix/client/v3/login", null, {
        type: "m.login.password",
        identifier: { type: "m.id.user", user: user.localpart },
        password: user.password,
      });
      expect(login.status).toBe(200);
      expect(login.body.user_id).toBe(user.userId);
      expect(readFileSync(again.secretFiles.hsToken, "utf8")).toBe(hsToken);
      expect((await fetch(`${again.appserviceUrl}/readyz`)).status).toBe(200);
    } finally {
      expect(await second.stop(), second.output.join("")).toBe(0);
    }
  }, 600_000);
});
