/**
 * The scans need tools that ops/connecta builds or fetches (gitleaks, LiveKit, Helm, the Synapse
 * venv, the Go vulnerability database) and finds through the stack configuration; without one
 * they stop with a message that says how to get it.
 */
import { existsSync } from "node:fs";

/** `path` when it exists, else an error naming `variable` and how to set it. */
export function tool(path: string | null, variable: string): string {
  if (!path) throw new Error(`${variable} is not set: run \`ops/connecta setup\`, which installs it and sets it`);
  if (!existsSync(path))
    throw new Error(`${variable}=${path} does not exist: run \`ops/connecta setup\` to install it`);
  return path;
}
