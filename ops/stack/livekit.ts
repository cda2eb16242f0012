/**
 * LiveKit, the media server of calls (docs/calls.md): started on loopback with the stack's API
 * key (secrets.ts), its own configuration written at each start. Rooms are created by our call
 * token service only (`room.auto_create: false`), and its logs stay at `info`: LiveKit 1.13.5
 * writes join tokens at `debug`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StackConfig } from "./config.ts";
import { answers200, startService, waitUntil, type Service } from "./processes.ts";
import { privateDir, type Secrets } from "./secrets.ts";

/** LiveKit's HTTP and WebSocket address on loopback. */
export const livekitUrl = (config: StackConfig): string => `http://${config.bindAddress}:${config.livekitPort}`;

/** LiveKit's configuration (YAML is a superset of JSON). */
export function livekitConfig(config: StackConfig, keyFile: string): Record<string, unknown> {
  return {
    port: config.livekitPort,
    bind_addresses: [config.bindAddress],
    key_file: keyFile,
    rtc: {
      tcp_port: config.livekitTcpPort,
      udp_port: config.livekitUdpPort,
      // Loopback only: no STUN lookup of a public address, ICE candidates on the bind address.
      use_external_ip: false,
      node_ip: config.bindAddress,
    },
    room: {
      auto_create: false,
      // A room nobody joined, or everybody left, closes soon; the token service makes it again.
      empty_timeout: 60,
      departure_timeout: 10,
    },
    logging: { level: "info", json: false },
    // No TURN, no webhooks, no egress: nothing leaves the machine.
    turn: { enabled: false },
  };
}

/** Starts LiveKit and waits until it answers. */
export async function startLivekit(config: StackConfig, secrets: Secrets): Promise<Service> {
  if (!config.livekitServer) {
    throw new Error("CONNECTA_LIVEKIT_SERVER: not set (run the stack through ops/connecta, which builds LiveKit)");
  }
  const dir = privateDir(join(config.dataDir, "livekit"));
  const file = join(dir, "livekit.yaml");
  writeFileSync(file, JSON.stringify(livekitConfig(config, secrets.files.livekitKeys), null, 2), { mode: 0o600 });
  const service = startService(
    "livekit",
    config.livekitServer,
    ["--config", file],
    join(config.dataDir, "logs", "livekit.log"),
    { cwd: dir, env: { PATH: process.env.PATH } },
  );
  await waitUntil(service, "it answers", () => answers200(`${livekitUrl(config)}/`));
  return service;
}
