// The page's handle on the Matrix worker (worker.ts): starts it for the tab's session and
// calls into it. Small and free of the SDK, so any page may import it; the worker's code is
// fetched only when a page connects.
import { LEAVING_EVENT } from "../quick-exit/quick-exit.ts";
import type { Session } from "../session/session.ts";
import { Remote } from "./rpc.ts";
import type { MatrixApi } from "./worker.ts";

/** The Matrix client of this tab, running in the worker. */
export type Matrix = Remote<MatrixApi>;

let current: { deviceId: string; remote: Matrix; ready: Promise<Matrix> } | null = null;

/**
 * The Matrix client of `session`: the worker is started (crypto store opened, first sync done)
 * on the first call, the same one is answered afterwards. A failed start can be tried again.
 */
export function connect(session: Session): Promise<Matrix> {
  if (current?.deviceId === session.deviceId) return current.ready;
  disconnect();
  const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: "connecta-matrix" });
  const remote: Matrix = new Remote<MatrixApi>(worker);
  // A plain copy: the session may be a reactive proxy, which cannot be sent to a worker.
  const ready = remote.call("connect", { ...session }).then(() => remote);
  const started = { deviceId: session.deviceId, remote, ready };
  current = started;
  ready.catch(() => {
    if (current === started) disconnect();
  });
  return ready;
}

// The quick exit clears our storage: the worker lets go of its crypto store first, so that
// the store's deletion is not held up.
if (typeof window !== "undefined") window.addEventListener(LEAVING_EVENT, () => disconnect());

/**
 * Stops the worker at once, with the client, its sync and the unlocked secret-storage key
 * (which lived only there). Its crypto store stays in IndexedDB (see stores.ts).
 */
export function disconnect(): void {
  current?.remote.terminate();
  current = null;
}
