/**
 * Secret scan: gitleaks (built by ops/connecta, CONNECTA_GITLEAKS) over every commit of the
 * repository with the rules in .gitleaks.toml (gitleaks' own plus Connecta's: Matrix access
 * tokens, the homeserver's, application service's and LiveKit's shared secrets). Findings are
 * printed redacted: the log of a CI run must not leak what it found.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { loadStackConfig } from "../stack/config.ts";
import { tool } from "./tools.ts";

/** The gitleaks binary from the stack configuration; throws saying how to get it. */
export function gitleaksFromEnv(): string {
  return tool(loadStackConfig().gitleaks, "CONNECTA_GITLEAKS");
}

/** Scans the history of the repository at `repo` with the config at `config`; true when clean. */
export function scanSecrets(
  gitleaks: string,
  repo: string,
  config = join(repo, ".gitleaks.toml"),
): { clean: boolean; output: string } {
  const run = spawnSync(
    gitleaks,
    ["git", "--config", config, "--redact", "--no-banner", "--no-color", "--verbose", "--exit-code", "3", repo],
    { encoding: "utf8", maxBuffer: 64 << 20 },
  );
  const output = `${run.stdout}${run.stderr}`;
  if (run.status === 0) return { clean: true, output };
  if (run.status === 3) return { clean: false, output };
  throw new Error(`gitleaks failed (exit ${run.status ?? run.signal}):\n${output}`);
}
