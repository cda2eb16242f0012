// Calls between the page and the Matrix worker (worker.ts): the page calls the worker's API by
// name with structured-clonable arguments and gets a promise of the result. Functions among the
// arguments (progress reports, watchers) become callbacks the worker can call back on the page.
// ArrayBuffers among the arguments are transferred, not copied (the caller's copy is emptied).

/** An API served by a worker: async (or plain) functions of clonable values and callbacks. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parameters are contravariant: with unknown[], no API with typed parameters would fit
export type Api = Record<string, (...args: any[]) => unknown>;

/** An argument that stands for a function of the caller's. */
interface CallbackRef {
  connectaCallback: number;
}

type Request = { type: "call"; id: number; method: string; args: unknown[] };
type Reply =
  | { type: "result"; id: number; value: unknown }
  | { type: "error"; id: number; name: string; message: string }
  | { type: "callback"; callback: number; args: unknown[] };

/** An error thrown in the worker, as the page sees it: its class name and message. */
export class RemoteError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

const isCallbackRef = (value: unknown): value is CallbackRef =>
  typeof value === "object" && value !== null && typeof (value as CallbackRef).connectaCallback === "number";

/** The endpoint both sides talk through: a Worker on the page, the worker's global scope in it. */
interface Endpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
}

/** Serves `api` to the page that started this worker. */
export function serve(api: Api, endpoint: Endpoint): void {
  endpoint.addEventListener("message", (event: MessageEvent<Request>) => {
    const { id, method, args } = event.data;
    const call = async (): Promise<unknown> => {
      const fn = Object.hasOwn(api, method) ? api[method] : undefined;
      if (!fn) throw new Error(`no such method: ${method}`);
      const resolved = args.map((arg) =>
        isCallbackRef(arg)
          ? (...callbackArgs: unknown[]) =>
              endpoint.postMessage({
                type: "callback",
                callback: arg.connectaCallback,
                args: callbackArgs,
              } satisfies Reply)
          : arg,
      );
      return await fn(...resolved);
    };
    call().then(
      (value) => endpoint.postMessage({ type: "result", id, value } satisfies Reply),
      (err: unknown) => {
        const { name, message } = err instanceof Error ? err : new Error(String(err));
        endpoint.postMessage({ type: "error", id, name, message } satisfies Reply);
      },
    );
  });
}

/** What the page holds of a worker (a MessagePort with a `terminate` does too, in tests). */
export interface WorkerLike extends Endpoint {
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  addEventListener(type: "error", listener: (event: ErrorEvent) => void): void;
  terminate(): void;
}

/** The page's side: calls a worker's API. */
export class Remote<A extends Api> {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  private readonly callbacks = new Map<number, (...args: unknown[]) => void>();
  private closed = false;

  constructor(private readonly worker: WorkerLike) {
    worker.addEventListener("message", (event: MessageEvent<Reply>) => {
      const reply = event.data;
      if (reply.type === "callback") {
        this.callbacks.get(reply.callback)?.(...reply.args);
        return;
      }
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (reply.type === "result") waiting?.resolve(reply.value);
      else waiting?.reject(new RemoteError(reply.name, reply.message));
    });
    worker.addEventListener("error", (event) => this.fail(`the Matrix worker failed: ${event.message}`));
  }

  /**
   * Calls `method` in the worker. Callbacks among the arguments stay registered until the call
   * has ended.
   */
  async call<K extends keyof A & string>(method: K, ...args: Parameters<A[K]>): Promise<Awaited<ReturnType<A[K]>>> {
    const { result, callbacks } = this.send(method, args);
    try {
      return (await result) as Awaited<ReturnType<A[K]>>;
    } finally {
      for (const id of callbacks) this.callbacks.delete(id);
    }
  }

  /**
   * Starts a watch in the worker: `method` returns a watch id, its callbacks stay registered,
   * and the returned function ends the watch with `stopMethod(id)`.
   */
  async watch<K extends keyof A & string>(
    method: K,
    stopMethod: keyof A & string,
    ...args: Parameters<A[K]>
  ): Promise<() => void> {
    const { result, callbacks } = this.send(method, args);
    let watchId: unknown;
    try {
      watchId = await result;
    } catch (err) {
      for (const id of callbacks) this.callbacks.delete(id);
      throw err;
    }
    return () => {
      for (const id of callbacks) this.callbacks.delete(id);
      if (!this.closed) this.send(stopMethod, [watchId]).result.catch(() => {});
    };
  }

  /** Ends the worker at once; calls still waiting fail. */
  terminate(): void {
    this.worker.terminate();
    this.fail("the Matrix worker was stopped");
  }

  private fail(message: string): void {
    this.closed = true;
    for (const { reject } of this.pending.values()) reject(new RemoteError("WorkerGone", message));
    this.pending.clear();
    this.callbacks.clear();
  }

  private send(method: string, args: unknown[]): { result: Promise<unknown>; callbacks: number[] } {
    if (this.closed)
      return { result: Promise.reject(new RemoteError("WorkerGone", "the Matrix worker has ended")), callbacks: [] };
    const id = ++this.nextId;
    const callbacks: number[] = [];
    const transfer: Transferable[] = [];
    const wire = args.map((arg) => {
      if (typeof arg === "function") {
        const callback = ++this.nextId;
        this.callbacks.set(callback, arg as (...a: unknown[]) => void);
        callbacks.push(callback);
        return { connectaCallback: callback } satisfies CallbackRef;
      }
      if (arg instanceof ArrayBuffer) transfer.push(arg);
      return arg;
    });
    const result = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    try {
      this.worker.postMessage({ type: "call", id, method, args: wire } satisfies Request, transfer);
    } catch (err) {
      // e.g. DataCloneError: an argument that cannot be copied to the worker (a reactive proxy).
      this.pending.delete(id);
      for (const callback of callbacks) this.callbacks.delete(callback);
      return { result: Promise.reject(err instanceof Error ? err : new Error(String(err))), callbacks: [] };
    }
    return { result, callbacks };
  }
}
