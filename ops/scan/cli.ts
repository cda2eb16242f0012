/**
 * `npm run scan` (CI runs it after the lint): the secret scan of the git history, the dependency
 * audit and the licence check, each failing the run on a finding (docs/scanning.md).
 *
 *   node ops/scan/cli.ts [secrets|audit|licences ...]   the named checks (default: all three)
 *   node ops/scan/cli.ts licences --write               also rewrite docs/licences.md
 *
 * The tools come from ops/connecta (`ops/connecta setup` builds them): CONNECTA_GITLEAKS,
 * CONNECTA_GO_VULNDB, CONNECTA_LIVEKIT_SERVER, CONNECTA_HELM, CONNECTA_SYNAPSE_PYTHON.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../stack/config.ts";
import {
  applyIgnores,
  auditedPackages,
  auditInputsFromEnv,
  findVulnerabilities,
  loadAdvisories,
  readIgnores,
} from "./audit.ts";
import { collectLicences, inputsFromEnv, renderLicences } from "./licences.ts";
import { gitleaksFromEnv, scanSecrets } from "./secrets.ts";

const say = (line: string) => process.stdout.write(`scan: ${line}\n`);

function secrets(): boolean {
  const started = Date.now();
  const result = scanSecrets(gitleaksFromEnv(), ROOT);
  if (!result.clean) process.stdout.write(result.output);
  say(`secrets: ${result.clean ? "none found" : "FOUND (see above)"} in the git history (${Date.now() - started} ms)`);
  return result.clean;
}

function audit(): boolean {
  const started = Date.now();
  const inputs = auditInputsFromEnv(ROOT);
  const index = loadAdvisories(inputs.advisoryFolders);
  const packages = auditedPackages(inputs);
  const checked = new Set(index.perEcosystem.keys());
  const findings = findVulnerabilities(packages, index);
  const { failing, ignored, unused } = applyIgnores(findings, readIgnores(ROOT), checked);
  for (const ecosystem of ["npm", "PyPI", "Go"]) {
    const count = packages.filter((p) => p.ecosystem === ecosystem).length;
    const advisories = index.perEcosystem.get(ecosystem);
    say(
      advisories
        ? `audit: ${ecosystem}: ${count} package versions checked against ${advisories} advisories`
        : `audit: ${ecosystem}: ${count} package versions NOT checked: no advisory data reachable (set CONNECTA_OSV_DIRS, docs/scanning.md)`,
    );
  }
  for (const f of failing) {
    const fix = f.fixed.length > 0 ? `fixed in ${[...new Set(f.fixed)].join(", ")}` : "no fix";
    say(
      `audit: VULNERABLE ${f.pkg.ecosystem}:${f.pkg.name}@${f.pkg.version} (${f.pkg.usedBy}): ${f.advisory} ${f.summary} [${fix}]`,
    );
  }
  for (const u of unused) say(`audit: ignored advisory matches nothing, remove it: ${u}`);
  say(`audit: ${failing.length} open, ${ignored.length} reviewed in audit-ignore.json (${Date.now() - started} ms)`);
  return failing.length === 0 && unused.length === 0;
}

function licences(write: boolean): boolean {
  const started = Date.now();
  const inputs = inputsFromEnv();
  const { rows, problems } = collectLicences(inputs);
  const doc = join(ROOT, "docs/licences.md");
  const rendered = renderLicences(rows, inputs);
  if (write) writeFileSync(doc, rendered);
  const current = readFileSync(doc, "utf8") === rendered;
  for (const problem of problems) say(`licences: ${problem}`);
  if (!current) say("licences: docs/licences.md is out of date: run `node ops/scan/cli.ts licences --write`");
  say(`licences: ${rows.length} dependencies, ${problems.length} problems (${Date.now() - started} ms)`);
  return problems.length === 0 && current;
}

const args = process.argv.slice(2);
const write = args.includes("--write");
const chosen = args.filter((a) => !a.startsWith("--"));
const checks = chosen.length > 0 ? chosen : ["secrets", "audit", "licences"];
let ok = true;
for (const check of checks) {
  if (check === "secrets") ok = secrets() && ok;
  else if (check === "audit") ok = audit() && ok;
  else if (check === "licences") ok = licences(write) && ok;
  else {
    process.stderr.write(`unknown check ${check}: secrets, audit or licences\n`);
    process.exit(2);
  }
}
process.exitCode = ok ? 0 : 1;
