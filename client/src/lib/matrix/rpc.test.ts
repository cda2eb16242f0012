import { afterEach, describe, expect, it } from "vitest";
import { Remote, RemoteError, serve, type WorkerLike } from "./rpc.ts";

class WrongSecretError extends Error {
  override name = "WrongSecretError";
}

/** An API like the Matrix worker's, served over a MessageChannel (what a Worker is underneath). */
function connected() {
  const watches = new Map<number, () => void>();
  const log: string[] = [];
  let sent: (n: number) => void = () => {};
  const api = {
    add: (a: number, b: number) => a + b,
    slow: async (text: string) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return text.toUpperCase();
    },
    unlock: async (secret: string) => {
      if (secret !== "right") throw new WrongSecretError("key does not fit");
      return true;
    },
    count: async (to: number, onProgress: (done: number, total: number) => void) => {
      for (let i = 1; i <= to; i++) onProgress(i, to);
      return to;
    },
    bytes: (buffer: ArrayBuffer) => [...new Uint8Array(buffer)],
    watch: (onChange: (n: number) => void) => {
      sent = onChange;
      watches.set(1, () => log.push("stopped"));
      return 1;
    },
    unwatch: (id: number) => {
      watches.get(id)?.();
      watches.delete(id);
      sent = () => {};
    },
  };
  const { port1, port2 } = new MessageChannel();
  port2.start();
  serve(api, port2);
  port1.start();
  const worker: WorkerLike = {
    postMessage: (message: unknown, transfer?: Transferable[]) => port1.postMessage(message, transfer ?? []),
    addEventListener: (type: string, listener: (event: never) => void) =>
      port1.addEventListener(type, listener as unknown as EventListener),
    terminate: () => port1.close(),
  };
  const remote = new Remote<typeof api>(worker);
  channels.push(port1, port2);
  return { remote, log, emit: (n: number) => sent(n) };
}

const channels: MessagePort[] = [];
afterEach(() => {
  for (const port of channels.splice(0)) port.close();
});

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("Remote and serve", () => {
  it("call the worker's functions and return their results, in any order", async () => {
    const { remote } = connected();
    const [slow, sum] = await Promise.all([remote.call("slow", "hallo"), remote.call("add", 2, 3)]);
    expect(sum).toBe(5);
    expect(slow).toBe("HALLO");
  });

  it("hand over the worker's errors with their class name", async () => {
    const { remote } = connected();
    const failure = await remote.call("unlock", "wrong").catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(RemoteError);
    expect(failure).toMatchObject({ name: "WrongSecretError", message: "key does not fit" });
    await expect(remote.call("unlock", "right")).resolves.toBe(true);
  });

  it("refuse methods the API does not have, also inherited ones", async () => {
    const { remote } = connected();
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with call(remote, …) below
    const call = remote.call as (method: string, ...args: unknown[]) => Promise<unknown>;
    await expect(call.call(remote, "nope")).rejects.toThrow(/no such method: nope/);
    await expect(call.call(remote, "toString")).rejects.toThrow(/no such method: toString/);
  });

  it("call callbacks back on the page while the call runs", async () => {
    const { remote } = connected();
    const seen: string[] = [];
    const result = await remote.call("count", 3, (done: number, total: number) => seen.push(`${done}/${total}`));
    expect(result).toBe(3);
    expect(seen).toEqual(["1/3", "2/3", "3/3"]);
  });

  it("transfer ArrayBuffers instead of copying them", async () => {
    const { remote } = connected();
    const buffer = new Uint8Array([1, 2, 255]).buffer;
    await expect(remote.call("bytes", buffer)).resolves.toEqual([1, 2, 255]);
    expect(buffer.byteLength).toBe(0);
  });

  it("keep a watch's callback until it is stopped, then end it in the worker", async () => {
    const { remote, log, emit } = connected();
    const seen: number[] = [];
    const stop = await remote.watch("watch", "unwatch", (n: number) => seen.push(n));
    emit(1);
    emit(2);
    await tick();
    expect(seen).toEqual([1, 2]);
    stop();
    await tick();
    emit(3);
    await tick();
    expect(seen).toEqual([1, 2]);
    expect(log).toEqual(["stopped"]);
  });

  it("fail calls that cannot be sent instead of waiting forever", async () => {
    const { remote } = connected();
    const unclonable = { session: "x", callback: () => {} } as unknown as number;
    await expect(remote.call("add", unclonable, 1)).rejects.toThrow();
    await expect(remote.call("add", 1, 1)).resolves.toBe(2);
  });

  it("fail waiting and later calls once the worker is stopped", async () => {
    const { remote } = connected();
    const waiting = remote.call("slow", "x");
    remote.terminate();
    await expect(waiting).rejects.toMatchObject({ name: "WorkerGone" });
    await expect(remote.call("add", 1, 2)).rejects.toMatchObject({ name: "WorkerGone" });
  });
});
