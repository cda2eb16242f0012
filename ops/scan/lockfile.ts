/**
 * Every npm package that package-lock.json installs, direct or transitive, once per name and
 * version. The lockfile (version 2 or 3) lists each installed copy under its path in
 * node_modules (`node_modules/a/node_modules/b`); our own workspaces (appservice, client) are
 * links to folders and are not dependencies.
 */

/** One installed package version. */
export interface LockedPackage {
  name: string;
  version: string;
  /** What its package.json declares under `license` (or the old `licenses`), as written. */
  license: unknown;
  /** Only a development dependency (tests, build), not in the running service. */
  dev: boolean;
  /** The first path it is installed at, e.g. `node_modules/a/node_modules/b`. */
  path: string;
}

interface LockEntry {
  name?: string;
  version?: string;
  license?: unknown;
  licenses?: unknown;
  dev?: boolean;
  link?: boolean;
}

/** The packages of a parsed package-lock.json, sorted by name and version. */
export function lockedPackages(lock: unknown): LockedPackage[] {
  const packages = (lock as { lockfileVersion?: number; packages?: Record<string, LockEntry> }).packages;
  if (typeof packages !== "object" || packages === null) {
    throw new Error("package-lock.json has no `packages`: lockfileVersion 2 or 3 is needed");
  }
  const found = new Map<string, LockedPackage>();
  for (const [path, entry] of Object.entries(packages)) {
    const at = path.lastIndexOf("node_modules/");
    // "" is the root project, "appservice" and "client" are workspaces; links point at them.
    if (at === -1 || entry.link) continue;
    const name = entry.name ?? path.slice(at + "node_modules/".length);
    if (!entry.version) throw new Error(`package-lock.json: ${path} has no version`);
    const key = `${name}@${entry.version}`;
    const seen = found.get(key);
    // A version is a development dependency only if every copy of it is one.
    if (seen) seen.dev &&= entry.dev === true;
    else {
      found.set(key, {
        name,
        version: entry.version,
        license: entry.license ?? entry.licenses,
        dev: entry.dev === true,
        path,
      });
    }
  }
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}
