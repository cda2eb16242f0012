/**
 * Element Call in a test, as a counsellor in Element uses it: Element Call's published embedded
 * build (`@element-hq/element-call-embedded`, unmodified) served from "our origin" with the
 * config.json of element-call-config/, inside a minimal widget host (host.ts) whose Matrix client
 * is a real matrix-js-sdk client with Rust crypto in this process, logged in as a device of its
 * own ("the counsellor's Element").
 *
 * "Our origin" is the web client's origin, as in production, where nginx (ops/host,
 * docs/element-call.md) serves `/element-call/` beside the web client. The test stack has no
 * nginx: the browser context answers `/element-call/` (the package's files, our config.json) and
 * the widget host's page (`/widget-host/`; in production the host is Element) from files, and
 * sends everything else to the real servers. So Element Call's token requests go, on the origin
 * it was served from, to the web client's `/api/v1/rtc/`, and on to the call token service; and
 * the LiveKit service URL that the homeserver announces (MSC4143) is the same origin.
 */
import { readFileSync } from "node:fs";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import * as sdk from "matrix-js-sdk";
import type { BrowserContext, Page, Route } from "playwright-core";
import { rolldown } from "rolldown";
import type { StackInfo } from "../../../ops/stack/stack.ts";
import { cryptoClient, matrixRequest, type TestUser } from "../matrix.ts";
import type { HostParams } from "./host.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, "..", "..", "..");
/** The files of the embedded build, as npm installed them. */
export const ELEMENT_CALL_DIST = join(REPO, "node_modules", "@element-hq", "element-call-embedded", "dist");
/** The operator's config.json template (element-call-config/). */
const CONFIG_TEMPLATE = join(REPO, "element-call-config", "config.json");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".ogg": "audio/ogg",
  ".mp3": "audio/mpeg",
};

/** The static locations of our origin in a browser context, and what they served. */
export interface StaticFiles {
  origin: string;
  /** Paths served, in order. */
  served: string[];
}

/** The widget host's page script, bundled once for the browser. */
async function hostScript(): Promise<string> {
  const bundle = await rolldown({ input: join(HERE, "host.ts"), platform: "browser", logLevel: "silent" });
  const { output } = await bundle.generate({ format: "iife" });
  await bundle.close();
  return output[0].code;
}

/** config.json of element-call-config/ with `https://{{SERVER_NAME}}` made `origin`. */
export function renderedConfig(origin: string): string {
  return readFileSync(CONFIG_TEMPLATE, "utf8").replaceAll("https://{{SERVER_NAME}}", origin);
}

/**
 * Serves, in `context`, the static locations production's nginx adds to our origin (`origin`,
 * the web client's): `/element-call/` from the package with our config.json, and here also the
 * widget host's page (`/widget-host/`). Every other request of the context goes to the real
 * servers: the web client, and through it the call token service.
 */
export async function serveStaticFiles(context: BrowserContext, origin: string): Promise<StaticFiles> {
  const script = await hostScript();
  const served: string[] = [];
  const files = (path: string): { type: string; body: string | Buffer } | null => {
    if (path === "/widget-host/")
      return {
        type: TYPES[".html"] as string,
        body: '<!doctype html><html lang="en"><title>Widget host</title><body></body>',
      };
    if (path === "/widget-host/host.js") return { type: TYPES[".js"] as string, body: script };
    if (path === "/element-call/config.json") return { type: TYPES[".json"] as string, body: renderedConfig(origin) };
    const relative = normalize(decodeURIComponent(path.slice("/element-call/".length)) || "index.html");
    if (!path.startsWith("/element-call/") || relative.startsWith("..")) return null;
    try {
      const body = readFileSync(join(ELEMENT_CALL_DIST, relative));
      return { type: TYPES[extname(relative)] ?? "application/octet-stream", body };
    } catch {
      return null;
    }
  };
  const handle = async (route: Route) => {
    const path = new URL(route.request().url()).pathname;
    served.push(path);
    const file = files(path);
    await route.fulfill(
      file
        ? { status: 200, contentType: file.type, body: file.body, headers: { "cache-control": "no-store" } }
        : { status: 404, contentType: "text/plain", body: "not found" },
    );
  };
  await context.route(`${origin}/element-call/**`, handle);
  await context.route(`${origin}/widget-host/**`, handle);
  return { origin, served };
}

/** A Matrix event as the widget API carries it. */
const raw = (event: sdk.MatrixEvent): unknown => event.getEffectiveEvent();

/**
 * The Matrix client behind the widget host: a fresh device of `user` (password login), its
 * requests made by matrix-js-sdk. Each method answers one WidgetDriver call of host.ts.
 */
function driverMethods(client: sdk.MatrixClient): Record<string, (...args: never[]) => unknown> {
  const room = (roomId: string): sdk.Room => {
    const found = client.getRoom(roomId);
    if (!found) throw new Error(`unknown room ${roomId}`);
    return found;
  };
  return {
    async sendEvent(roomId: string, type: string, content: Record<string, unknown>, stateKey: string | null) {
      const res =
        stateKey === null
          ? await client.sendEvent(roomId, type as never, content as never)
          : await client.sendStateEvent(roomId, type as never, content as never, stateKey);
      return { roomId, eventId: res.event_id };
    },
    async sendDelayedEvent(
      roomId: string,
      delay: number,
      type: string,
      content: Record<string, unknown>,
      stateKey: string | null,
    ) {
      const res =
        stateKey === null
          ? await client._unstable_sendDelayedEvent(roomId, { delay }, null, type as never, content as never)
          : await client._unstable_sendDelayedStateEvent(roomId, { delay }, type as never, content as never, stateKey);
      return { roomId, delayId: res.delay_id };
    },
    async updateDelayedEvent(delayId: string, action: "cancel" | "restart" | "send") {
      if (action === "cancel") await client._unstable_cancelScheduledDelayedEvent(delayId);
      if (action === "restart") await client._unstable_restartScheduledDelayedEvent(delayId);
      if (action === "send") await client._unstable_sendScheduledDelayedEvent(delayId);
      return {};
    },
    async sendToDevice(type: string, encrypted: boolean, contentMap: Record<string, Record<string, object>>) {
      const crypto = client.getCrypto();
      if (!crypto) throw new Error("no crypto");
      for (const [userId, devices] of Object.entries(contentMap)) {
        for (const [deviceId, content] of Object.entries(devices)) {
          const targets =
            deviceId === "*" ? [...((await crypto.getUserDeviceInfo([userId])).get(userId)?.keys() ?? [])] : [deviceId];
          if (!encrypted) {
            const batch = targets.map((d) => ({ userId, deviceId: d, payload: content as Record<string, unknown> }));
            await client.queueToDevice({ eventType: type, batch });
            continue;
          }
          const sealed = await crypto.encryptToDeviceMessages(
            type,
            targets.map((d) => ({ userId, deviceId: d })),
            content,
          );
          await client.queueToDevice(sealed);
        }
      }
      return {};
    },
    readRoomState(roomId: string, type: string, stateKey: string | null) {
      const state = room(roomId).getLiveTimeline().getState(sdk.EventTimeline.FORWARDS);
      if (!state) return [];
      const events = stateKey === null ? state.getStateEvents(type) : [state.getStateEvents(type, stateKey)];
      return events.filter((e): e is sdk.MatrixEvent => !!e).map(raw);
    },
    readRoomTimeline(roomId: string, type: string, msgtype: string | null, stateKey: string | null, limit: number) {
      return room(roomId)
        .getLiveTimeline()
        .getEvents()
        .filter(
          (e) =>
            e.getType() === type &&
            (msgtype === null || e.getContent().msgtype === msgtype) &&
            (stateKey === null || e.getStateKey() === stateKey),
        )
        .slice(-limit)
        .reverse()
        .map(raw);
    },
    getOpenIdToken() {
      return client.getOpenIdToken();
    },
  };
}

/** Element Call open in a page, and the Matrix client behind it. */
export interface ElementCall {
  page: Page;
  client: sdk.MatrixClient;
  deviceId: string;
  /** What the widget host did for Element Call, by driver method (for a failing test's message). */
  calls: string[];
  stop(): void;
}

/**
 * Opens Element Call for `roomId` in `page` as `user` on a new device: the widget host page of the
 * origin, Element Call in its iframe from `/element-call/` with the URL parameters a Matrix
 * client gives it (docs/element-call.md), per-participant E2EE, joining an existing call.
 */
export async function openElementCall(
  stack: StackInfo,
  origin: StaticFiles,
  page: Page,
  user: TestUser,
  roomId: string,
  lang = "en",
): Promise<ElementCall> {
  const login = await matrixRequest(stack, "POST", "/_matrix/client/v3/login", null, {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: user.localpart },
    password: user.password,
    initial_device_display_name: "Element (test)",
  });
  if (login.status !== 200) throw new Error(`login for Element Call: ${login.status} ${JSON.stringify(login.body)}`);
  const device: TestUser = {
    ...user,
    accessToken: String(login.body.access_token),
    deviceId: String(login.body.device_id),
  };
  const client = await cryptoClient(stack, device);
  const calls: string[] = [];
  const methods = driverMethods(client);
  await page.exposeBinding("__matrix", (_source, method: string, ...args: unknown[]) => {
    calls.push(method);
    const handler = methods[method];
    if (!handler) throw new Error(`widget host: no ${method}`);
    return handler(...(args as never[]));
  });

  const widgetId = `connecta-test-${device.deviceId}`;
  const widgetUrl = new URL(`${origin.origin}/element-call/index.html`);
  widgetUrl.search = new URLSearchParams({
    widgetId,
    parentUrl: `${origin.origin}/widget-host/`,
    roomId,
    userId: device.userId,
    deviceId: device.deviceId,
    baseUrl: stack.synapseUrl,
    intent: "join_existing",
    perParticipantE2EE: "true",
    confineToRoom: "true",
    lang,
    theme: "light",
  }).toString();
  const params: HostParams = { widgetId, widgetUrl: widgetUrl.href, roomId, userId: device.userId };
  await page.addInitScript((p) => {
    (window as unknown as { __hostParams: unknown }).__hostParams = p;
  }, params);
  await page.goto(`${origin.origin}/widget-host/`);
  await page.addScriptTag({ url: "/widget-host/host.js" });

  // What the client receives goes to the widget: the room's events and state, to-device messages.
  const feed = (fn: string, ...args: unknown[]) =>
    page
      .evaluate(
        ([fn, args]) =>
          (
            (window as unknown as { __widgetHost: Record<string, (...a: unknown[]) => Promise<void>> }).__widgetHost[
              fn
            ] as (...a: unknown[]) => Promise<void>
          )(...args),
        [fn, args] as const,
      )
      .catch(() => {});
  const onTimeline = (event: sdk.MatrixEvent, eventRoom: sdk.Room | undefined) => {
    if (eventRoom?.roomId !== roomId) return;
    void client.decryptEventIfNeeded(event).then(() => feed("feedEvent", raw(event)));
  };
  const onState = (event: sdk.MatrixEvent) => {
    if (event.getRoomId() === roomId) void feed("feedStateUpdate", raw(event));
  };
  const onToDevice = ({ message, encryptionInfo }: sdk.ReceivedToDeviceMessage) =>
    void feed("feedToDevice", message, encryptionInfo !== null);
  client.on(sdk.RoomEvent.Timeline, onTimeline);
  client.on(sdk.RoomStateEvent.Events, onState);
  client.on(sdk.ClientEvent.ReceivedToDeviceMessage, onToDevice);
  return {
    page,
    client,
    deviceId: device.deviceId,
    calls,
    stop: () => {
      client.off(sdk.RoomEvent.Timeline, onTimeline);
      client.off(sdk.RoomStateEvent.Events, onState);
      client.off(sdk.ClientEvent.ReceivedToDeviceMessage, onToDevice);
      client.stopClient();
    },
  };
}
