// The crypto stores in IndexedDB, by name: the worker opens one (client.ts), the page deletes
// them (logout, a new login). No SDK here, so the page can import it cheaply.

/** The name prefix of every crypto store of ours in IndexedDB. */
export const STORE_PREFIX = "connecta-";

/** The IndexedDB prefix of a device's crypto store. */
export const storePrefix = (deviceId: string): string => `${STORE_PREFIX}${deviceId}`;

/**
 * Deletes our crypto stores from IndexedDB, except the one of `keepDeviceId`. Stores of earlier
 * logins are unreadable anyway (their key was in a closed tab's sessionStorage). Stop the Matrix
 * worker first (remote.ts `disconnect`): a store it holds open is deleted only once it is gone.
 */
export async function deleteStores(keepDeviceId?: string): Promise<void> {
  const keep = keepDeviceId === undefined ? null : storePrefix(keepDeviceId);
  const databases = await indexedDB.databases();
  await Promise.all(
    databases
      .map((db) => db.name ?? "")
      .filter((name) => name.startsWith(STORE_PREFIX) && (keep === null || !name.startsWith(`${keep}::`)))
      .map(
        (name) =>
          new Promise<void>((resolve) => {
            const request = indexedDB.deleteDatabase(name);
            request.onsuccess = request.onerror = request.onblocked = () => resolve();
          }),
      ),
  );
}
