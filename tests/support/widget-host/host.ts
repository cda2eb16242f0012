/**
 * The page side of a minimal widget host, as a Matrix client (Element Web) hosts Element Call:
 * an iframe with the widget and matrix-widget-api's `ClientWidgetApi` speaking the widget API
 * with it over postMessage. What the widget asks of the Matrix client (send events, read room
 * state, send to-device messages, an OpenID token) the `WidgetDriver` below hands to the test
 * process through the page binding `__matrix`, where a real matrix-js-sdk client with Rust crypto
 * does it (element-call.ts). What the client receives comes back through `__widgetHost`.
 *
 * Bundled for the browser by element-call.ts (rolldown); runs in Chromium only.
 */
import {
  ClientWidgetApi,
  OpenIDRequestState,
  Widget,
  WidgetDriver,
  type Capability,
  type IOpenIDUpdate,
  type IRoomEvent,
  type ISendDelayedEventDetails,
  type ISendEventDetails,
  type IWidgetApiRequest,
  type SimpleObservable,
} from "matrix-widget-api";

/** What the test puts in the page before this script runs. */
export interface HostParams {
  widgetId: string;
  widgetUrl: string;
  roomId: string;
  userId: string;
}

type MatrixCall = (method: string, ...args: unknown[]) => Promise<unknown>;
const win = window as unknown as {
  __matrix: MatrixCall;
  __hostParams: HostParams;
  __widgetHost?: unknown;
};
const matrix: MatrixCall = (method, ...args) => win.__matrix(method, ...args);

/**
 * Capabilities the host does not give: sticky events (MSC4354; our homeserver has none, so
 * Element Call writes its membership as room state) and the homeserver's transports and token
 * endpoints through the host (Element Call then uses its config.json, see docs/element-call.md).
 */
const WITHHELD = [/msc4354/, /sticky/, /rtc_transports/, /rtc\.livekit/, /download_file/];

class ForwardingDriver extends WidgetDriver {
  private readonly roomId: string;
  public constructor(roomId: string) {
    super();
    this.roomId = roomId;
  }
  public override validateCapabilities(requested: Set<Capability>): Promise<Set<Capability>> {
    return Promise.resolve(new Set([...requested].filter((c) => !WITHHELD.some((w) => w.test(c)))));
  }
  public override sendEvent(
    eventType: string,
    content: unknown,
    stateKey?: string | null,
    roomId?: string | null,
  ): Promise<ISendEventDetails> {
    return matrix(
      "sendEvent",
      roomId ?? this.roomId,
      eventType,
      content,
      stateKey ?? null,
    ) as Promise<ISendEventDetails>;
  }
  public override sendDelayedEvent(
    delay: number,
    eventType: string,
    content: unknown,
    stateKey?: string | null,
    roomId?: string | null,
  ): Promise<ISendDelayedEventDetails> {
    return matrix(
      "sendDelayedEvent",
      roomId ?? this.roomId,
      delay,
      eventType,
      content,
      stateKey ?? null,
    ) as Promise<ISendDelayedEventDetails>;
  }
  public override async cancelScheduledDelayedEvent(delayId: string): Promise<void> {
    await matrix("updateDelayedEvent", delayId, "cancel");
  }
  public override async restartScheduledDelayedEvent(delayId: string): Promise<void> {
    await matrix("updateDelayedEvent", delayId, "restart");
  }
  public override async sendScheduledDelayedEvent(delayId: string): Promise<void> {
    await matrix("updateDelayedEvent", delayId, "send");
  }
  public override async sendToDevice(
    eventType: string,
    encrypted: boolean,
    contentMap: { [userId: string]: { [deviceId: string]: object } },
  ): Promise<void> {
    await matrix("sendToDevice", eventType, encrypted, contentMap);
  }
  public override readRoomState(
    roomId: string,
    eventType: string,
    stateKey: string | undefined,
  ): Promise<IRoomEvent[]> {
    return matrix("readRoomState", roomId, eventType, stateKey ?? null) as Promise<IRoomEvent[]>;
  }
  public override async readStateEvents(
    eventType: string,
    stateKey: string | undefined,
    limit: number,
    roomIds?: string[] | null,
  ): Promise<IRoomEvent[]> {
    const rooms = roomIds ?? [this.roomId];
    const all = await Promise.all(rooms.map((room) => this.readRoomState(room, eventType, stateKey)));
    return all.flat().slice(0, limit);
  }
  public override readRoomTimeline(
    roomId: string,
    eventType: string,
    msgtype: string | undefined,
    stateKey: string | undefined,
    limit: number,
  ): Promise<IRoomEvent[]> {
    return matrix("readRoomTimeline", roomId, eventType, msgtype ?? null, stateKey ?? null, limit) as Promise<
      IRoomEvent[]
    >;
  }
  public override async readRoomEvents(
    eventType: string,
    msgtype: string | undefined,
    limit: number,
    roomIds?: string[] | null,
  ): Promise<IRoomEvent[]> {
    const rooms = roomIds ?? [this.roomId];
    const all = await Promise.all(
      rooms.map((room) => this.readRoomTimeline(room, eventType, msgtype, undefined, limit)),
    );
    return all.flat().slice(0, limit);
  }
  public override askOpenID(observer: SimpleObservable<IOpenIDUpdate>): void {
    void (matrix("getOpenIdToken") as Promise<NonNullable<IOpenIDUpdate["token"]>>).then(
      (token) => observer.update({ state: OpenIDRequestState.Allowed, token }),
      () => observer.update({ state: OpenIDRequestState.Blocked }),
    );
  }
  public override getKnownRooms(): string[] {
    return [this.roomId];
  }
}

const params = win.__hostParams;
const iframe = document.createElement("iframe");
iframe.title = "Element Call";
iframe.allow = "camera; microphone; display-capture; autoplay";
iframe.style.cssText = "width: 100%; height: 95vh; border: 0";
document.body.append(iframe);
const widget = new Widget({
  id: params.widgetId,
  creatorUserId: params.userId,
  type: "m.call",
  url: params.widgetUrl,
  // Element Call says itself when it is ready (content_loaded), as Element Web expects of it.
  waitForIframeLoad: false,
});
const api = new ClientWidgetApi(widget, iframe, new ForwardingDriver(params.roomId));
api.setViewedRoomId(params.roomId);
// Element Call tells its host that it joined, hung up, changed its microphone or camera, or wants
// to stay on screen; Element acts on these, this host only acknowledges them.
for (const action of [
  "io.element.join",
  "im.vector.hangup",
  "io.element.close",
  "io.element.device_mute",
  "set_always_on_screen",
]) {
  api.on(`action:${action}`, (ev: CustomEvent<IWidgetApiRequest>) => {
    ev.preventDefault();
    api.transport.reply(ev.detail, {});
  });
}
iframe.src = params.widgetUrl;

/** What the test process calls with what the Matrix client received. */
win.__widgetHost = {
  ready: () => api.hasCapability("org.matrix.msc2762.receive.state_event:org.matrix.msc3401.call.member"),
  feedEvent: (event: IRoomEvent) => api.feedEvent(event),
  feedStateUpdate: (event: IRoomEvent) => api.feedStateUpdate(event),
  feedToDevice: (message: Parameters<ClientWidgetApi["feedToDevice"]>[0], encrypted: boolean) =>
    api.feedToDevice(message, encrypted),
};
