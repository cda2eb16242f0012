/**
 * Dependency audit against the advisory data this machine can reach. npm's audit endpoint does
 * not answer here and OSV's download site cannot be resolved, so the sources are folders of
 * advisories in the OSV format:
 *
 * - the Go vulnerability database (the golang.org/x/vulndb module, served by the Go module
 *   proxy; ops/connecta fetches the newest one and sets CONNECTA_GO_VULNDB to its data/osv
 *   folder): every module and the Go standard library compiled into LiveKit, Helm and gitleaks,
 *   counted only where a vulnerable function is linked into the binary;
 * - any folders in CONNECTA_OSV_DIRS (colon-separated), e.g. OSV's npm/all.zip and
 *   PyPI/all.zip unpacked, on a machine that can download them: then npm packages from
 *   package-lock.json and the Synapse venv's Python packages are checked as well.
 *
 * An ecosystem without any advisory data is reported as not checked, never as clean. A finding
 * fails the audit unless ops/scan/audit-ignore.json names its advisory and package with a reason;
 * an ignore entry that matches no finding (of an ecosystem that was checked) fails too.
 * The hosted-CI workflow (.github/workflows/audit.yml) runs `npm audit` and osv-scanner where
 * the internet is reachable.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadStackConfig } from "../stack/config.ts";
import { goBinaryModules, goCommand } from "./go.ts";
import { lockedPackages } from "./lockfile.ts";
import { pythonPackages } from "./python.ts";
import { tool } from "./tools.ts";
import { versionAffected, type OsvAffected } from "./versions.ts";

/** An advisory in the OSV format (the fields the audit reads). */
export interface Advisory {
  id: string;
  aliases?: string[];
  summary?: string;
  withdrawn?: string;
  affected?: (OsvAffected & { ecosystem_specific?: { imports?: GoImport[] } })[];
  database_specific?: { severity?: string };
}

/** A Go package an advisory names, with its vulnerable functions (`F`, `T.M`); none: all of it. */
export interface GoImport {
  path: string;
  symbols?: string[];
}

/** One package version to check. */
export interface AuditedPackage {
  ecosystem: "npm" | "PyPI" | "Go";
  name: string;
  version: string;
  /** Where it is used, for the report. */
  usedBy: string;
  /**
   * Go: the function names in the binary's symbol table. An advisory that names vulnerable
   * functions applies only when one of them is linked in (as `govulncheck -mode=binary` does).
   */
  symbols?: ReadonlySet<string>;
}

/** An advisory that applies to a package version. */
export interface Finding {
  advisory: string;
  aliases: string[];
  summary: string;
  severity: string;
  pkg: AuditedPackage;
  /** The versions that fix it, as the advisory lists them. */
  fixed: string[];
}

/** Reviewed findings of one package that do not fail the audit. */
export interface AuditIgnore {
  /** The advisory ids (GHSA-..., GO-..., PYSEC-..., or a CVE alias). */
  advisories: string[];
  /** `ecosystem:name`, e.g. `Go:stdlib`. */
  package: string;
  /** Only where it is used so (a Go program's name, "runtime" or "development" for npm). */
  usedBy?: string;
  /** Why it does not matter for Connecta, or why it cannot be fixed yet. */
  reason: string;
}

/** Advisories grouped by `ecosystem:name`, and how many were read per ecosystem. */
export interface AdvisoryIndex {
  byPackage: Map<string, Advisory[]>;
  perEcosystem: Map<string, number>;
}

/** Reads every *.json advisory in the folders; withdrawn ones are left out. */
export function loadAdvisories(folders: string[]): AdvisoryIndex {
  const byPackage = new Map<string, Advisory[]>();
  const perEcosystem = new Map<string, number>();
  for (const folder of folders) {
    for (const file of readdirSync(folder)) {
      if (!file.endsWith(".json")) continue;
      const advisory = JSON.parse(readFileSync(join(folder, file), "utf8")) as Advisory;
      if (advisory.withdrawn) continue;
      const ecosystems = new Set<string>();
      for (const affected of advisory.affected ?? []) {
        const { ecosystem, name } = affected.package ?? {};
        if (!ecosystem || !name) continue;
        // "Go", "npm", "PyPI"; OSV adds a suffix for distributions ("Debian:12"), not ours.
        const key = `${ecosystem}:${name}`;
        const list = byPackage.get(key) ?? [];
        if (!list.includes(advisory)) list.push(advisory);
        byPackage.set(key, list);
        ecosystems.add(ecosystem);
      }
      for (const e of ecosystems) perEcosystem.set(e, (perEcosystem.get(e) ?? 0) + 1);
    }
  }
  return { byPackage, perEcosystem };
}

/**
 * Whether a version is in one of the entries. A version scheme semver cannot order (some PyPI
 * versions) counts as affected rather than missed; the ignore list can say otherwise after a look.
 */
function affects(version: string, entries: OsvAffected[]): boolean {
  try {
    return entries.some((a) => versionAffected(version, a));
  } catch {
    return true;
  }
}

/** The advisories that apply to each package (pure: no files, no network). */
export function findVulnerabilities(packages: AuditedPackage[], index: AdvisoryIndex): Finding[] {
  const findings: Finding[] = [];
  for (const pkg of packages) {
    for (const advisory of index.byPackage.get(`${pkg.ecosystem}:${pkg.name}`) ?? []) {
      const entries = (advisory.affected ?? []).filter(
        (a) => a.package?.ecosystem === pkg.ecosystem && a.package.name === pkg.name,
      );
      if (!affects(pkg.version, entries)) continue;
      const imports = entries.flatMap((a) => a.ecosystem_specific?.imports ?? []);
      if (pkg.symbols && imports.length > 0 && !imports.some((i) => linkedIn(i, pkg.symbols!))) continue;
      findings.push({
        advisory: advisory.id,
        aliases: advisory.aliases ?? [],
        summary: advisory.summary ?? "",
        severity: advisory.database_specific?.severity ?? "unknown",
        pkg,
        fixed: entries.flatMap((a) =>
          (a.ranges ?? []).flatMap((r) => r.events.flatMap((e) => (e.fixed ? [e.fixed] : []))),
        ),
      });
    }
  }
  return findings;
}

/**
 * Whether a binary's symbol table has one of the import's vulnerable functions. The linker writes
 * `path.F`, `path.T.M` and `path.(*T).M`, with the dots of the last path element as `%2e` and type
 * parameters as `[...]`; `symbols` holds the names with the type parameters removed.
 */
export function linkedIn(goImport: GoImport, symbols: ReadonlySet<string>): boolean {
  const slash = goImport.path.lastIndexOf("/");
  const path = goImport.path.slice(0, slash + 1) + goImport.path.slice(slash + 1).replace(/\./g, "%2e");
  if (!goImport.symbols || goImport.symbols.length === 0) {
    for (const symbol of symbols) if (symbol.startsWith(`${path}.`)) return true;
    return false;
  }
  return goImport.symbols.some((name) => {
    const [type, method] = name.split(".");
    if (method === undefined) return symbols.has(`${path}.${name}`);
    return symbols.has(`${path}.${type}.${method}`) || symbols.has(`${path}.(*${type}).${method}`);
  });
}

/** The function names in a Go binary's symbol table, type parameters removed. */
export function goSymbols(binary: string): Set<string> {
  const out = execFileSync(goCommand(), ["tool", "nm", binary], { encoding: "utf8", maxBuffer: 256 << 20 });
  const symbols = new Set<string>();
  for (const line of out.split("\n")) {
    const [, kind, name] = line.trim().split(/\s+/);
    if ((kind === "T" || kind === "t") && name) symbols.add(name.replace(/\[[^\]]*\]/g, ""));
  }
  return symbols;
}

/**
 * Splits findings into those that fail and those ignored; names each ignored advisory that
 * matched nothing (`advisory package`), in ecosystems whose advisories were read.
 */
export function applyIgnores(
  findings: Finding[],
  ignores: AuditIgnore[],
  checkedEcosystems: Set<string>,
): { failing: Finding[]; ignored: Finding[]; unused: string[] } {
  const matches = (f: Finding, i: AuditIgnore, advisory: string) =>
    `${f.pkg.ecosystem}:${f.pkg.name}` === i.package &&
    (i.usedBy === undefined || i.usedBy === f.pkg.usedBy) &&
    (f.advisory === advisory || f.aliases.includes(advisory));
  const ignoredBy = (f: Finding) => ignores.some((i) => i.advisories.some((a) => matches(f, i, a)));
  return {
    failing: findings.filter((f) => !ignoredBy(f)),
    ignored: findings.filter(ignoredBy),
    unused: ignores
      .filter((i) => checkedEcosystems.has(i.package.split(":")[0] ?? ""))
      .flatMap((i) =>
        i.advisories.filter((a) => !findings.some((f) => matches(f, i, a))).map((a) => `${a} ${i.package}`),
      ),
  };
}

/** Where the packages and the advisories are. */
export interface AuditInputs {
  root: string;
  synapsePython: string;
  goBinaries: Record<string, string>;
  advisoryFolders: string[];
}

/** The inputs from the stack configuration (see the header); the Go database is required. */
export function auditInputsFromEnv(root: string): AuditInputs {
  const config = loadStackConfig();
  for (const folder of config.osvDirs) tool(folder, "CONNECTA_OSV_DIRS");
  return {
    root,
    synapsePython: config.synapsePython,
    goBinaries: {
      "livekit-server": tool(config.livekitServer, "CONNECTA_LIVEKIT_SERVER"),
      helm: tool(config.helm, "CONNECTA_HELM"),
      gitleaks: tool(config.gitleaks, "CONNECTA_GITLEAKS"),
    },
    advisoryFolders: [tool(config.goVulndb, "CONNECTA_GO_VULNDB"), ...config.osvDirs],
  };
}

/** Every package version Connecta ships or builds with. */
export function auditedPackages(inputs: AuditInputs): AuditedPackage[] {
  const lock: unknown = JSON.parse(readFileSync(join(inputs.root, "package-lock.json"), "utf8"));
  const packages: AuditedPackage[] = lockedPackages(lock).map((p) => ({
    ecosystem: "npm",
    name: p.name,
    version: p.version,
    usedBy: p.dev ? "development" : "runtime",
  }));
  for (const p of pythonPackages(inputs.synapsePython)) {
    packages.push({ ecosystem: "PyPI", name: p.name, version: p.version, usedBy: "Synapse" });
  }
  for (const [program, binary] of Object.entries(inputs.goBinaries)) {
    const { go, modules } = goBinaryModules(binary);
    const symbols = goSymbols(binary);
    packages.push({ ecosystem: "Go", name: "stdlib", version: go, usedBy: program, symbols });
    for (const m of modules) {
      packages.push({ ecosystem: "Go", name: m.path, version: m.version, usedBy: program, symbols });
    }
  }
  return packages;
}

/** The ignore list. */
export function readIgnores(root: string): AuditIgnore[] {
  return JSON.parse(readFileSync(join(root, "ops/scan/audit-ignore.json"), "utf8")) as AuditIgnore[];
}
