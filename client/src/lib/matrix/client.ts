// The browser's Matrix client: matrix-js-sdk with Rust crypto (WASM). It runs in the Matrix
// worker (worker.ts), off the page's main thread; pages reach it through remote.ts, so neither
// the SDK nor the WASM is part of any page's own code.
//
// One client per crypto store: the store in IndexedDB is named after the device
// (`connecta-<device id>`), encrypted with the session's storeKey, and each worker runs one
// client, for the session it was started with.
import {
  AuthType,
  ClientEvent,
  createClient,
  MatrixError,
  MemoryStore,
  PendingEventOrdering,
  SyncState,
  type ICreateClientOpts,
  type MatrixClient,
} from "matrix-js-sdk";
import {
  decodeRecoveryKey,
  deriveRecoveryKeyFromPassphrase,
  OnlySignedDevicesIsolationMode,
  type ImportRoomKeyProgressData,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import type { Session } from "../session/session.ts";
import { storePrefix } from "./stores.ts";

const quiet = (): void => {};
/** The SDK logs every request and crypto step; the console of a seeker's browser gets warnings only. */
const logger: NonNullable<ICreateClientOpts["logger"]> = {
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: (...msg: unknown[]) => console.warn(...msg),
  error: (...msg: unknown[]) => console.error(...msg),
  getChild: () => logger,
};

/** The secret-storage key of this page, once unlocked or created. Never stored. */
let secretStorageKey: Uint8Array<ArrayBuffer> | null = null;

/** Waits until the first sync is done (or fails with what the server said). */
function firstSync(client: MatrixClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSync = (state: SyncState, _prev: SyncState | null, data?: { error?: Error }): void => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error && data?.error instanceof MatrixError && data.error.httpStatus === 401) {
        client.off(ClientEvent.Sync, onSync);
        reject(data.error);
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Starts the client of `session`: opens its crypto store, waits for the first sync. Called once
 * per Matrix worker (remote.ts starts a worker per session and a new one after a failure).
 */
export async function startClient(session: Session): Promise<MatrixClient> {
  const client = createClient({
    baseUrl: session.homeserverUrl,
    userId: session.userId,
    accessToken: session.accessToken,
    deviceId: session.deviceId,
    timelineSupport: true,
    // In memory only: the SDK's default store would write the user id into localStorage,
    // which outlives the tab.
    store: new MemoryStore(),
    logger,
    cryptoCallbacks: {
      // Answers with the key unlocked on this page; there is only ever one secret-storage key.
      getSecretStorageKey: async ({ keys }) => {
        const keyId = Object.keys(keys)[0];
        return secretStorageKey && keyId !== undefined ? [keyId, secretStorageKey] : null;
      },
      cacheSecretStorageKey: (_keyId, _info, key) => {
        secretStorageKey = key;
      },
    },
  });
  await client.initRustCrypto({
    cryptoDatabasePrefix: storePrefix(session.deviceId),
    storageKey: decodeBase64(session.storeKey),
  });
  // Room keys go only to devices their owner cross-signed, and only messages from such devices
  // are shown (MSC4153, "exclude insecure devices"). The homeserver can add a device to any
  // account, but it cannot cross-sign it without the owner's keys: such a device gets nothing.
  // Sending fails (see refusal() in conversation.ts) while this device is not cross-signed
  // itself, or when the identity of an account we verified (our own) has changed.
  const crypto = client.getCrypto();
  if (!crypto) throw new Error("no crypto");
  crypto.setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
  const synced = firstSync(client);
  await client.startClient({
    initialSyncLimit: 30,
    lazyLoadMembers: true,
    // Messages being sent are kept apart from the timeline until the server has them.
    pendingEventOrdering: PendingEventOrdering.Detached,
  });
  await synced;
  return client;
}

/** The steps of setting up or restoring keys, shown to the user as progress. */
export type KeyStep = "identity" | "storage" | "backup" | "restore";

/** Whether this account has secret storage (set up on an earlier device). */
export async function hasSecretStorage(client: MatrixClient): Promise<boolean> {
  return (await client.secretStorage.getDefaultKeyId()) !== null;
}

/**
 * First device of an account: creates the cross-signing identity, secret storage (its key
 * derived from the passphrase with PBKDF2) and a key backup, and returns the recovery key to show
 * once. The password answers the homeserver's confirmation if it asks for one. The passphrase
 * never leaves this page: only what it encrypts does.
 */
export async function createKeys(
  client: MatrixClient,
  passphrase: string,
  password: string | null,
  onStep: (step: KeyStep) => void,
): Promise<string> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Error("no crypto");
  onStep("identity");
  await crypto.bootstrapCrossSigning({
    authUploadDeviceSigningKeys: async (makeRequest) => {
      try {
        // Synapse accepts an account's first cross-signing identity without confirmation.
        await makeRequest(null);
      } catch (err) {
        if (!(err instanceof MatrixError) || err.httpStatus !== 401 || password === null) throw err;
        const session = typeof err.data.session === "string" ? { session: err.data.session } : {};
        await makeRequest({
          type: AuthType.Password,
          identifier: { type: "m.id.user", user: client.getSafeUserId() },
          password,
          ...session,
        });
      }
    },
  });
  onStep("storage");
  const generated = await crypto.createRecoveryKeyFromPassphrase(passphrase);
  secretStorageKey = generated.privateKey;
  onStep("backup");
  await crypto.bootstrapSecretStorage({
    createSecretStorageKey: async () => generated,
    setupNewSecretStorage: true,
    setupNewKeyBackup: true,
  });
  return generated.encodedPrivateKey ?? "";
}

/** The answer was not the key of this account's secret storage. */
export class WrongSecretError extends Error {
  override name = "WrongSecretError";
}

/**
 * A further device (or a cleared browser): unlocks secret storage with the passphrase or the
 * recovery key, takes over the cross-signing identity (so the device is trusted) and restores
 * every room key from the backup, reporting progress. Returns how many keys were restored.
 *
 * @throws WrongSecretError when the passphrase or recovery key does not fit
 */
export async function restoreKeys(
  client: MatrixClient,
  secret: { passphrase: string } | { recoveryKey: string },
  onStep: (step: KeyStep) => void,
  onProgress: (done: number, total: number) => void,
): Promise<number> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Error("no crypto");
  const found = await client.secretStorage.getKey();
  if (!found) throw new WrongSecretError("no secret storage");
  const [, info] = found;
  let key: Uint8Array<ArrayBuffer>;
  try {
    if ("passphrase" in secret) {
      if (!info.passphrase) throw new WrongSecretError("secret storage has no passphrase");
      key = await deriveRecoveryKeyFromPassphrase(
        secret.passphrase,
        info.passphrase.salt,
        info.passphrase.iterations,
        info.passphrase.bits,
      );
    } else {
      key = decodeRecoveryKey(secret.recoveryKey.trim());
    }
  } catch (err) {
    throw err instanceof WrongSecretError ? err : new WrongSecretError(String(err));
  }
  if (!(await client.secretStorage.checkKey(key, info))) throw new WrongSecretError("key does not fit");
  secretStorageKey = key;
  onStep("identity");
  await crypto.bootstrapCrossSigning({});
  onStep("backup");
  await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
  await crypto.checkKeyBackupAndEnable();
  onStep("restore");
  const result = await crypto.restoreKeyBackup({
    progressCallback: (progress: ImportRoomKeyProgressData) => {
      // Only keys that were imported count as restored; failed ones leave the count short.
      if (progress.stage === "load_keys") onProgress(progress.successes, progress.total);
    },
  });
  return result.imported;
}

export type { MatrixClient };
