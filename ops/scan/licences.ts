/**
 * The licence of every dependency Connecta ships or builds with, checked against the allow-list
 * in spdx.ts: npm packages from package-lock.json, the Python packages of the Synapse venv, and
 * the Go modules compiled into LiveKit, Helm and gitleaks. A licence that is unknown or not on the
 * allow-list fails the check unless ops/scan/licence-exceptions.json has a reviewed entry for
 * that exact version (an entry that no longer matches anything fails too, so the list stays
 * short). The result is written to docs/licences.md; a unit test keeps that file current.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadStackConfig, ROOT } from "../stack/config.ts";
import { goBinaryModules, goLicenceTexts } from "./go.ts";
import { lockedPackages } from "./lockfile.ts";
import { pythonPackages } from "./python.ts";
import { checkLicence, classifyText, normalise } from "./spdx.ts";
import { tool } from "./tools.ts";

/** One dependency and the licence it was found to have. */
export interface LicenceRow {
  ecosystem: "npm" | "PyPI" | "Go";
  name: string;
  version: string;
  /** SPDX expression, or what was declared when it names nothing known. */
  licence: string;
  /** Where the licence was read: package metadata, a LICENSE file, or a reviewed exception. */
  source: string;
  /** npm: "runtime" or "development"; Go: the programs built with it; PyPI: "Synapse". */
  usedBy: string;
  ok: boolean;
  reason: string;
}

/** A reviewed licence for one package version that the automatic check cannot name or allow. */
export interface LicenceException {
  /**
   * `ecosystem:name@version`, e.g. `npm:parse-cache-control@1.0.1`; for the Synapse venv, whose
   * versions pip picks, `PyPI:name` (any version; review when its licence could have changed).
   */
  package: string;
  /** The SPDX expression a person read off the package; it must pass the allow-list itself. */
  licence: string;
  /** Why this is right: what the files say and why it is compatible. */
  reason: string;
}

/** Where the tools and environments to look into are (ops/connecta exports these). */
export interface LicenceInputs {
  root: string;
  synapsePython: string;
  /** Program name (livekit-server, helm, gitleaks) to its binary. */
  goBinaries: Record<string, string>;
}

/** The inputs from the stack configuration; throws naming what is missing and how to get it. */
export function inputsFromEnv(): LicenceInputs {
  const config = loadStackConfig();
  return {
    root: ROOT,
    synapsePython: tool(config.synapsePython, "CONNECTA_SYNAPSE_PYTHON"),
    goBinaries: {
      "livekit-server": tool(config.livekitServer, "CONNECTA_LIVEKIT_SERVER"),
      helm: tool(config.helm, "CONNECTA_HELM"),
      gitleaks: tool(config.gitleaks, "CONNECTA_GITLEAKS"),
    },
  };
}

/** The licence a set of LICENSE texts names, when they all name the same one. */
function fromTexts(texts: string[]): string | null {
  const names = new Set(texts.map(classifyText));
  const [only] = names;
  return names.size === 1 && only ? only : null;
}

function npmRows(root: string): LicenceRow[] {
  const lock: unknown = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  return lockedPackages(lock).map((pkg) => {
    let licence = normalise(pkg.license);
    let source = "package.json";
    if (licence === null) {
      const dir = join(root, pkg.path);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^(LICEN[CS]E|COPYING)([.-].*)?$/i.test(f)) : [];
      licence = fromTexts(files.map((f) => readFileSync(join(dir, f), "utf8")));
      source = files.length > 0 ? files.join(", ") : "nothing declared";
    }
    return row("npm", pkg.name, pkg.version, licence, pkg.license, source, pkg.dev ? "development" : "runtime");
  });
}

function pythonRows(python: string): LicenceRow[] {
  return pythonPackages(python).map((pkg) => {
    const tries: [string, string | null][] = [
      ["License-Expression", pkg.expression ? normalise(pkg.expression) : null],
      ["License field", pkg.license ? normalise(pkg.license) : null],
      // Several licence classifiers: each may apply, so each must be acceptable.
      ["classifier", pkg.classifiers.length > 0 ? normalise(pkg.classifiers) : null],
      ["licence file", pkg.licenceText ? classifyText(pkg.licenceText) : null],
    ];
    const found = tries.find(([, licence]) => licence !== null);
    const declared = pkg.expression ?? pkg.license ?? pkg.classifiers.join("; ");
    return row("PyPI", pkg.name, pkg.version, found?.[1] ?? null, declared, found?.[0] ?? "nothing known", "Synapse");
  });
}

function goRows(binaries: Record<string, string>): LicenceRow[] {
  const users = new Map<string, { path: string; version: string; by: string[] }>();
  for (const [program, binary] of Object.entries(binaries)) {
    for (const module of goBinaryModules(binary).modules) {
      const key = `${module.path}@${module.version}`;
      const seen = users.get(key) ?? { ...module, by: [] };
      seen.by.push(program);
      users.set(key, seen);
    }
  }
  const modules = [...users.values()];
  const texts = goLicenceTexts(modules);
  return modules.map((m) => {
    const text = texts.get(`${m.path}@${m.version}`) ?? null;
    const licence = text === null ? null : classifyText(text);
    return row(
      "Go",
      m.path,
      m.version,
      licence,
      null,
      text === null ? "no licence file" : "licence file",
      m.by.join(", "),
    );
  });
}

function row(
  ecosystem: LicenceRow["ecosystem"],
  name: string,
  version: string,
  licence: string | null,
  declared: unknown,
  source: string,
  usedBy: string,
): LicenceRow {
  const verdict = checkLicence(licence ?? declared);
  return {
    ecosystem,
    name,
    version,
    licence:
      licence ?? (declared === null || declared === undefined ? "unknown" : `unknown (${JSON.stringify(declared)})`),
    source,
    usedBy,
    ok: verdict.ok,
    reason: verdict.reason,
  };
}

/** Applies the reviewed exceptions; returns the rows and problems with the exceptions. */
export function applyExceptions(
  rows: LicenceRow[],
  exceptions: LicenceException[],
): { rows: LicenceRow[]; problems: string[] } {
  const problems: string[] = [];
  const byKey = new Map(exceptions.map((e) => [e.package, e]));
  const used = new Set<string>();
  const out = rows.map((r) => {
    const versionless = `${r.ecosystem}:${r.name}`;
    const key = r.ecosystem === "PyPI" && byKey.has(versionless) ? versionless : `${versionless}@${r.version}`;
    const exception = byKey.get(key);
    if (!exception) return r;
    used.add(key);
    if (r.ok) {
      problems.push(`${key}: the exception is not needed (found ${r.licence})`);
      return r;
    }
    const verdict = checkLicence(exception.licence);
    if (!verdict.ok) problems.push(`${key}: the reviewed licence ${exception.licence} is ${verdict.reason}`);
    return {
      ...r,
      licence: exception.licence,
      source: "reviewed (licence-exceptions.json)",
      ok: verdict.ok,
      reason: verdict.reason,
    };
  });
  for (const key of byKey.keys())
    if (!used.has(key)) problems.push(`${key}: exception for a package that is not there`);
  return { rows: out, problems };
}

/** The exceptions file. */
export function readExceptions(root: string): LicenceException[] {
  return JSON.parse(readFileSync(join(root, "ops/scan/licence-exceptions.json"), "utf8")) as LicenceException[];
}

/** Every dependency's licence, exceptions applied, and what is wrong. */
export function collectLicences(inputs: LicenceInputs): { rows: LicenceRow[]; problems: string[] } {
  const rows = [...npmRows(inputs.root), ...pythonRows(inputs.synapsePython), ...goRows(inputs.goBinaries)];
  const applied = applyExceptions(rows, readExceptions(inputs.root));
  const refused = applied.rows
    .filter((r) => !r.ok)
    .map((r) => `${r.ecosystem}:${r.name}@${r.version}: ${r.reason} (from ${r.source})`);
  return { rows: applied.rows, problems: [...refused, ...applied.problems] };
}

const synapseVersion = (rows: LicenceRow[]) =>
  rows.find((r) => r.ecosystem === "PyPI" && r.name === "matrix-synapse")?.version ?? "?";

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** docs/licences.md from the rows. */
export function renderLicences(rows: LicenceRow[], inputs: LicenceInputs): string {
  const count = (ecosystem: string) => rows.filter((r) => r.ecosystem === ecosystem).length;
  // The main module's version names the program's release (the first module `go version -m` lists).
  const programs = Object.entries(inputs.goBinaries)
    .map(([name, binary]) => `${name} ${goBinaryModules(binary).modules[0]?.version ?? "?"}`)
    .join(", ");
  const lines = [
    "# Licences of the dependencies",
    "",
    "Generated by `node ops/scan/cli.ts licences --write` (ops/scan/licences.ts); a unit test fails",
    "when it is out of date. Every licence below is compatible with Connecta's AGPL-3.0-or-later:",
    "the allow-list is in ops/scan/spdx.ts, reviewed exceptions with their reasons are in",
    "ops/scan/licence-exceptions.json, and docs/scanning.md explains the check.",
    "",
    `- npm (package-lock.json): ${count("npm")} package versions`,
    `- PyPI (the Synapse virtual environment): ${count("PyPI")} packages`,
    `- Go (modules compiled into ${programs}): ${count("Go")} modules`,
    "",
  ];
  const sections: [LicenceRow["ecosystem"], string, string][] = [
    ["npm", "npm packages", "Used for"],
    ["PyPI", "Python packages", "Used by"],
    ["Go", "Go modules", "Built into"],
  ];
  for (const [ecosystem, title, usedBy] of sections) {
    // pip picks the versions of Synapse's dependencies when the venv is made (only Synapse's own
    // is pinned): the list names them without versions, so it stays current until one is added.
    const versions = ecosystem !== "PyPI";
    lines.push(`## ${title}`, "");
    if (!versions) lines.push(`Versions as pip installed them for Synapse ${synapseVersion(rows)}.`, "");
    lines.push(
      versions
        ? `| Package | Version | Licence | Read from | ${usedBy} |`
        : `| Package | Licence | Read from | ${usedBy} |`,
      versions ? "| --- | --- | --- | --- | --- |" : "| --- | --- | --- | --- |",
    );
    for (const r of rows.filter((x) => x.ecosystem === ecosystem)) {
      const version = versions ? ` ${cell(r.version)} |` : "";
      lines.push(`| ${cell(r.name)} |${version} ${cell(r.licence)} | ${cell(r.source)} | ${cell(r.usedBy)} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
