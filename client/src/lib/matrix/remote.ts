// The page's handle on the Matrix worker (worker.ts): starts it for the tab's session and
// calls into it. Small and free of the SDK, so any page may import it; the worker's code is
// fetched only when a page connects.
import { LEAVING_EVENT, SETTLE_WAIT_MS, type LeavingDetail } from "../quick-exit/quick-exit.ts";
import type { Sealed } from "../session/seal.ts";
import type { Session } from "../session/session.ts";
import type { PassphraseKdf } from "./client.ts";
import { Remote } from "./rpc.ts";
import type { MatrixApi } from "./worker.ts";

/** The Matrix client of this tab, running in the worker. */
export type Matrix = Remote<MatrixApi>;

let current: { deviceId: string; remote: Matrix; ready: Promise<Matrix> } | null = null;
/** Messages of this tab not yet safe: the server or the key backup does not have them yet. */
let unsafeSends = 0;

const startWorker = (): Matrix =>
  new Remote<MatrixApi>(
    new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: "connecta-matrix" }),
  );

/**
 * The Matrix client of `session`: the worker is started (crypto store opened, first sync done)
 * on the first call, the same one is answered afterwards. A failed start can be tried again.
 */
export function connect(session: Session): Promise<Matrix> {
  if (current?.deviceId === session.deviceId) return current.ready;
  disconnect();
  const remote = startWorker();
  // A plain copy: the session may be a reactive proxy, which cannot be sent to a worker. The
  // worker has no use for the lock key.
  const { lockKey: _unused, ...plain } = session;
  const ready = remote.call("connect", plain).then(async () => {
    await remote.watch("watchSends", "unwatch", (pending: number) => {
      if (current?.remote === remote) unsafeSends = pending;
    });
    return remote;
  });
  const started = { deviceId: session.deviceId, remote, ready };
  current = started;
  ready.catch(() => {
    if (current === started) disconnect();
  });
  return ready;
}

/**
 * Waits, at most `maxMs`, until every message this tab sent is safe (on the server, its key in
 * the key backup), then stops the worker. Answers at once when nothing is pending.
 */
export async function settleAndDisconnect(maxMs = SETTLE_WAIT_MS): Promise<void> {
  const started = current;
  if (started && unsafeSends > 0) {
    await started.remote.call("settleSends", maxMs).catch(() => undefined);
  }
  if (current === started) disconnect();
}

if (typeof window !== "undefined") {
  // The quick exit clears our storage: the worker lets go of its crypto store first, so that the
  // store's deletion is not held up; with a message just sent, once that message is safe (the
  // quick exit waits a moment, its page already hidden).
  window.addEventListener(LEAVING_EVENT, (event) => {
    const detail = (event as CustomEvent<LeavingDetail>).detail;
    if (detail?.waitFor && unsafeSends > 0) detail.waitFor(settleAndDisconnect());
    else disconnect();
  });
  // Closing the tab or leaving the site while a message is not yet safe: the browser asks first
  // (its own neutral question; logout, the idle lock and the quick exit stop the worker before
  // they leave, so they are not asked).
  window.addEventListener("beforeunload", (event) => {
    if (current && unsafeSends > 0) event.preventDefault();
  });
}

/**
 * Stops the worker at once, with the client, its sync and the unlocked secret-storage key
 * (which lived only there). Its crypto store stays in IndexedDB (see stores.ts).
 */
export function disconnect(): void {
  current?.remote.terminate();
  current = null;
  unsafeSends = 0;
}

/**
 * Opens a locked tab's login (lock.ts) with the passphrase or the recovery key, in a worker of its
 * own (the derivation is the SDK's, and slow on purpose): answers the sealed text and the lock
 * key, or fails with a RemoteError named WrongSecretError.
 */
export async function openLock(
  sealed: Sealed,
  kdf: PassphraseKdf | null,
  secret: { passphrase: string } | { recoveryKey: string },
): Promise<{ plain: string; lockKey: string }> {
  const remote = startWorker();
  try {
    return await remote.call("openLock", sealed, kdf, secret);
  } finally {
    remote.terminate();
  }
}
