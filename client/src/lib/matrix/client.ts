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
  CryptoEvent,
  decodeRecoveryKey,
  deriveRecoveryKeyFromPassphrase,
  ImportRoomKeyStage,
  OnlySignedDevicesIsolationMode,
  type ImportRoomKeyProgressData,
} from "matrix-js-sdk/lib/crypto-api/index.js";
import { RustBackupManager } from "matrix-js-sdk/lib/rust-crypto/backup.js";
import type { PassphraseInfo } from "matrix-js-sdk/lib/secret-storage.js";
import { lockKeyOf, unseal, type Sealed } from "../session/seal.ts";
import type { Session } from "../session/session.ts";
import { keysArriving } from "./conversation.ts";
import { storePrefix } from "./stores.ts";

// The SDK waits a random 0 to 10 s before it uploads a new room key to the key backup (so that
// many clients receiving one key do not all upload at once). A message counts as sent only once
// its key is in the backup (conversation.ts): a person who closes the tab right after "sent"
// must find it again at the next login. Our rooms have two or three people; half a second of
// spread is plenty.
(RustBackupManager as { maxBackupLoopStartDelayMillis: number }).maxBackupLoopStartDelayMillis = 500;

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
      getSecretStorageKey: ({ keys }) => {
        const keyId = Object.keys(keys)[0];
        return Promise.resolve(secretStorageKey && keyId !== undefined ? [keyId, secretStorageKey] : null);
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
export type KeyStep = "identity" | "storage" | "backup" | "rehydrate" | "restore";

/**
 * What a tab needs to lock its screen without logging out (lock.ts): the lock key derived from
 * the secret-storage key, and how the passphrase turns into that key again (public: PBKDF2's
 * salt and rounds, as secret storage publishes them), or null if secret storage has no passphrase.
 */
export interface LockInfo {
  lockKey: string;
  kdf: PassphraseKdf | null;
}

/** PBKDF2 parameters of a secret-storage key made from a passphrase. */
export interface PassphraseKdf {
  salt: string;
  iterations: number;
  bits?: number | undefined;
}

const kdfOf = (passphrase: PassphraseInfo | undefined): PassphraseKdf | null =>
  passphrase ? { salt: passphrase.salt, iterations: passphrase.iterations, bits: passphrase.bits } : null;

/** The secret-storage key from the passphrase (with the account's PBKDF2 parameters) or the recovery key. */
async function secretStorageKeyFrom(
  secret: { passphrase: string } | { recoveryKey: string },
  kdf: PassphraseKdf | null | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    if ("passphrase" in secret) {
      if (!kdf) throw new WrongSecretError("secret storage has no passphrase");
      return await deriveRecoveryKeyFromPassphrase(secret.passphrase, kdf.salt, kdf.iterations, kdf.bits);
    }
    return decodeRecoveryKey(secret.recoveryKey.trim());
  } catch (err) {
    throw err instanceof WrongSecretError ? err : new WrongSecretError(String(err));
  }
}

/**
 * Starts device dehydration (MSC3814) once cross-signing and secret storage are set up or
 * unlocked: first takes over the dehydrated device the account left on the server, importing the
 * room keys that were sent to it while no browser of this person was open (`rehydrate`), then
 * uploads a new one, cross-signed by the SDK with this account's self-signing key, so that every
 * sender's client shares the keys of new messages with it. Its private keys go to the server
 * encrypted with the dehydration key, which lives in secret storage (so only the passphrase or
 * the recovery key opens it). Does nothing when the homeserver does not offer dehydration.
 */
async function startDehydration(
  client: MatrixClient,
  onProgress: (done: number, total: number) => void,
): Promise<void> {
  const crypto = client.getCrypto();
  if (!crypto || !(await crypto.isDehydrationSupported())) return;
  const progress = (keys: number, events: number): void => onProgress(keys, events);
  client.on(CryptoEvent.RehydrationProgress, progress);
  try {
    await crypto.startDehydration({ rehydrate: true });
  } finally {
    client.off(CryptoEvent.RehydrationProgress, progress);
  }
}

/** Whether this account has secret storage (set up on an earlier device). */
export async function hasSecretStorage(client: MatrixClient): Promise<boolean> {
  return (await client.secretStorage.getDefaultKeyId()) !== null;
}

/**
 * First device of an account: creates the cross-signing identity, secret storage (its key
 * derived from the passphrase with PBKDF2), a key backup and a dehydrated device, and returns
 * the recovery key to show once and what the tab needs to lock. The password answers the
 * homeserver's confirmation if it asks for one. The passphrase never leaves this page: only what
 * it encrypts does.
 */
export async function createKeys(
  client: MatrixClient,
  passphrase: string,
  password: string | null,
  onStep: (step: KeyStep) => void,
): Promise<{ recoveryKey: string; lock: LockInfo }> {
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
    createSecretStorageKey: () => Promise.resolve(generated),
    setupNewSecretStorage: true,
    setupNewKeyBackup: true,
  });
  onStep("rehydrate");
  await startDehydration(client, () => {});
  return {
    recoveryKey: generated.encodedPrivateKey ?? "",
    lock: { lockKey: await lockKeyOf(generated.privateKey), kdf: kdfOf(generated.keyInfo?.passphrase) },
  };
}

/** The answer was not the key of this account's secret storage. */
export class WrongSecretError extends Error {
  override name = "WrongSecretError";
}

/**
 * A further device (or a cleared browser): unlocks secret storage with the passphrase or the
 * recovery key, takes over the cross-signing identity (so the device is trusted), takes over the
 * dehydrated device with the keys that arrived while no browser was open (see startDehydration)
 * and restores every room key from the backup, reporting progress. Returns how many keys came
 * back from the backup and what the tab needs to lock.
 *
 * @throws WrongSecretError when the passphrase or recovery key does not fit
 */
export async function restoreKeys(
  client: MatrixClient,
  secret: { passphrase: string } | { recoveryKey: string },
  onStep: (step: KeyStep) => void,
  onProgress: (done: number, total: number) => void,
): Promise<{ restored: number; lock: LockInfo }> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Error("no crypto");
  const found = await client.secretStorage.getKey();
  if (!found) throw new WrongSecretError("no secret storage");
  const [, info] = found;
  const kdf = kdfOf(info.passphrase);
  const key = await secretStorageKeyFrom(secret, kdf);
  if (!(await client.secretStorage.checkKey(key, info))) throw new WrongSecretError("key does not fit");
  secretStorageKey = key;
  // Messages that cannot be decrypted yet are shown as "being decrypted" until the keys are in.
  const arrived = keysArriving();
  try {
    onStep("identity");
    await crypto.bootstrapCrossSigning({});
    onStep("backup");
    await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
    await crypto.checkKeyBackupAndEnable();
    onStep("restore");
    const result = await crypto.restoreKeyBackup({
      progressCallback: (progress: ImportRoomKeyProgressData) => {
        // Only keys that were imported count as restored; failed ones leave the count short.
        if (progress.stage === ImportRoomKeyStage.LoadKeys) onProgress(progress.successes, progress.total);
      },
    });
    onStep("rehydrate");
    await startDehydration(client, onProgress);
    return { restored: result.imported, lock: { lockKey: await lockKeyOf(key), kdf } };
  } finally {
    arrived();
  }
}

/**
 * Opens a locked tab's login (lock.ts) with the passphrase or the recovery key: derives the
 * secret-storage key as on the keys page, and from it the lock key. Needs no server and no
 * client: the login it opens is what the client would need.
 *
 * @throws WrongSecretError when the passphrase or recovery key does not fit
 */
export async function openLock(
  sealed: Sealed,
  kdf: PassphraseKdf | null,
  secret: { passphrase: string } | { recoveryKey: string },
): Promise<{ plain: string; lockKey: string }> {
  const lockKey = await lockKeyOf(await secretStorageKeyFrom(secret, kdf));
  try {
    return { plain: await unseal(lockKey, sealed), lockKey };
  } catch {
    throw new WrongSecretError("the lock does not open with this secret");
  }
}

export type { MatrixClient };
