/**
 * The secret scan finds what it is for (a positive control in a throw-away repository: a Matrix
 * access token and a literal homeserver secret in an old commit that a later commit removed) and
 * lets through a {{PLACEHOLDER}}. Needs gitleaks from `ops/connecta setup` (CONNECTA_GITLEAKS).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../stack/config.ts";
import { gitleaksFromEnv, scanSecrets } from "./secrets.ts";

const repo = mkdtempSync(join(tmpdir(), "connecta-leaks-"));
afterAll(() => rmSync(repo, { recursive: true, force: true }));
const git = (...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.org", ...args], { cwd: repo, stdio: "ignore" });

describe("the secret scan", () => {
  it("finds a secret that only the history still has, and prints it redacted", () => {
    git("init", "-q");
    // Built from parts so that this file itself holds no token for the scan to find.
    const token = ["syt", "YWxpY2U", "AbCdEfGhIjKlMnOpQrSt", "1a2B3c"].join("_");
    // Made here, never written in the repository: what the scan must find in the throw-away one.
    const secret = randomBytes(18).toString("base64url");
    writeFileSync(join(repo, "homeserver.yaml"), `macaroon_secret_key: "${secret}"\nas_token: "{{AS_TOKEN}}"\n`);
    writeFileSync(join(repo, "notes.md"), `curl -H 'Authorization: Bearer ${token}'\n`);
    git("add", ".");
    git("commit", "-qm", "oops");
    writeFileSync(join(repo, "homeserver.yaml"), 'macaroon_secret_key: "{{MACAROON_SECRET_KEY}}"\n');
    writeFileSync(join(repo, "notes.md"), "curl -H 'Authorization: Bearer $TOKEN'\n");
    git("commit", "-qam", "remove the secrets");

    const result = scanSecrets(gitleaksFromEnv(), repo, join(ROOT, ".gitleaks.toml"));
    expect(result.clean).toBe(false);
    expect(result.output).toMatch(/RuleID:\s+matrix-access-token/);
    expect(result.output).toMatch(/RuleID:\s+connecta-shared-secret/);
    expect(result.output).not.toContain(secret);
    expect(result.output).not.toContain(token);
    expect(result.output).not.toMatch(/AS_TOKEN/);
  });

  it("finds nothing in this repository's history", () => {
    const result = scanSecrets(gitleaksFromEnv(), ROOT);
    expect(result.output).toMatch(/commits scanned/);
    expect(result.clean, result.output).toBe(true);
  });
});
