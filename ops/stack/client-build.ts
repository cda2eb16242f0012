/**
 * Whether the web client's production build (client/build/) is older than what it is built
 * from, so `ops/connecta start` rebuilds it only when needed. The list names every input that
 * changes the build (SvelteKit's settings live in vite.config.ts); a unit test checks that each
 * one exists, so a renamed file cannot silently stop being watched.
 *
 * `node ops/stack/client-build.ts` exits 0 when the build is current and 1 when it is stale.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./config.ts";

/** Files and folders (relative to the repository) the client build is made from. */
export const CLIENT_BUILD_INPUTS: readonly string[] = [
  "client/src",
  "client/static",
  "client/vite.config.ts",
  "client/security-headers.js",
  "client/tsconfig.json",
  "client/package.json",
  "package-lock.json",
];

/** A file the build writes last-ish; its time is the build's time. */
const BUILD_MARKER = "client/build/handler.js";

/** Modification time of `path`, or of the newest file below it. */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  const names = readdirSync(path, { recursive: true, encoding: "utf8" });
  return Math.max(stat.mtimeMs, ...names.map((name) => statSync(join(path, name)).mtimeMs));
}

/** True when there is no build or an input changed after it was made. */
export function clientBuildStale(root = ROOT): boolean {
  const built = statSync(join(root, BUILD_MARKER), { throwIfNoEntry: false });
  if (!built) return true;
  return CLIENT_BUILD_INPUTS.some((input) => newest(join(root, input)) > built.mtimeMs);
}

if (import.meta.main) process.exit(clientBuildStale() ? 1 : 0);
