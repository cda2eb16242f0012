import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../stack/config.ts";
import {
  applyIgnores,
  auditedPackages,
  auditInputsFromEnv,
  findVulnerabilities,
  linkedIn,
  loadAdvisories,
  readIgnores,
  type Advisory,
  type AuditedPackage,
} from "./audit.ts";
import { parseGoVersionM } from "./go.ts";

const folder = mkdtempSync(join(tmpdir(), "connecta-osv-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Writes advisories as OSV files and indexes them, as the audit reads a database. */
function index(...advisories: Advisory[]) {
  const dir = mkdtempSync(join(folder, "db-"));
  for (const a of advisories) writeFileSync(join(dir, `${a.id}.json`), JSON.stringify(a));
  return loadAdvisories([dir]);
}

const semver = (introduced: string, fixed: string) => [{ type: "SEMVER", events: [{ introduced }, { fixed }] }];
const npm = (name: string, version: string): AuditedPackage => ({ ecosystem: "npm", name, version, usedBy: "runtime" });

describe("the dependency audit", () => {
  const db = index(
    {
      id: "GHSA-aaaa-bbbb-cccc",
      aliases: ["CVE-2026-0001"],
      summary: "Prototype pollution",
      affected: [{ package: { ecosystem: "npm", name: "lodash" }, ranges: semver("0", "4.17.21") }],
    },
    {
      id: "GHSA-dddd-eeee-ffff",
      withdrawn: "2026-01-01T00:00:00Z",
      affected: [{ package: { ecosystem: "npm", name: "lodash" }, ranges: semver("0", "9.0.0") }],
    },
    {
      id: "GO-2026-0001",
      affected: [
        {
          package: { ecosystem: "Go", name: "stdlib" },
          ranges: semver("0", "1.26.10"),
          ecosystem_specific: { imports: [{ path: "net/http", symbols: ["Server.Serve", "ListenAndServe"] }] },
        },
      ],
    },
  );

  it("finds an affected version, transitive or not, and names the fix", () => {
    const findings = findVulnerabilities(
      [npm("lodash", "4.17.20"), npm("lodash", "4.17.21"), npm("express", "5.0.0")],
      db,
    );
    expect(findings.map((f) => [f.advisory, f.pkg.version, f.fixed])).toEqual([
      ["GHSA-aaaa-bbbb-cccc", "4.17.20", ["4.17.21"]],
    ]);
  });

  it("leaves withdrawn advisories out and counts advisories per ecosystem", () => {
    expect(db.perEcosystem).toEqual(
      new Map([
        ["npm", 1],
        ["Go", 1],
      ]),
    );
  });

  it("counts a Go advisory only when a vulnerable function is linked into the binary", () => {
    const go = (symbols: string[]): AuditedPackage => ({
      ecosystem: "Go",
      name: "stdlib",
      version: "1.26.8",
      usedBy: "livekit-server",
      symbols: new Set(symbols),
    });
    expect(findVulnerabilities([go(["net/http.(*Server).Serve"])], db)).toHaveLength(1);
    expect(findVulnerabilities([go(["net/http.ListenAndServe"])], db)).toHaveLength(1);
    expect(findVulnerabilities([go(["net/http.(*Client).Do", "net/url.Parse"])], db)).toHaveLength(0);
    expect(findVulnerabilities([{ ...go(["net/http.ListenAndServe"]), version: "1.26.10" }], db)).toHaveLength(0);
  });

  it("matches symbols as the Go linker names them", () => {
    const symbols = new Set([
      "gopkg.in/yaml%2ev3.Unmarshal",
      "golang.org/x/net/http2.(*serverConn).serve",
      "example.org/m.Map",
    ]);
    expect(linkedIn({ path: "gopkg.in/yaml.v3", symbols: ["Unmarshal"] }, symbols)).toBe(true);
    expect(linkedIn({ path: "golang.org/x/net/http2", symbols: ["serverConn.serve"] }, symbols)).toBe(true);
    expect(linkedIn({ path: "golang.org/x/net/http2", symbols: ["Transport.RoundTrip"] }, symbols)).toBe(false);
    // No symbols named: any function of the package counts.
    expect(linkedIn({ path: "golang.org/x/net/http2" }, symbols)).toBe(true);
    expect(linkedIn({ path: "golang.org/x/net/html" }, symbols)).toBe(false);
    expect(linkedIn({ path: "example.org/m", symbols: ["Map"] }, symbols)).toBe(true);
  });

  it("ignores a reviewed finding by advisory or alias, and reports ignore entries that match nothing", () => {
    const findings = findVulnerabilities([npm("lodash", "4.17.20")], db);
    const byAlias = {
      advisories: ["CVE-2026-0001", "GHSA-zzzz-zzzz-zzzz"],
      package: "npm:lodash",
      reason: "test helper",
    };
    const other = { advisories: ["GO-2026-0002"], package: "Go:stdlib", reason: "not checked here" };
    const result = applyIgnores(findings, [byAlias, other], new Set(["npm"]));
    expect(result.failing).toEqual([]);
    expect(result.ignored).toHaveLength(1);
    // The Go entry is not reported: no Go advisories were read, so it could not have matched.
    expect(result.unused).toEqual(["GHSA-zzzz-zzzz-zzzz npm:lodash"]);
    expect(applyIgnores(findings, [{ ...byAlias, usedBy: "development" }], new Set(["npm"])).failing).toHaveLength(1);
  });
});

describe("Connecta's dependencies", () => {
  // Needs the Go vulnerability database and the Go programs from `ops/connecta setup`
  // (CONNECTA_GO_VULNDB, CONNECTA_LIVEKIT_SERVER, CONNECTA_HELM, CONNECTA_GITLEAKS).
  it("have no open advisory in the reachable databases, and every ignore entry still matters", () => {
    const inputs = auditInputsFromEnv(ROOT);
    const advisories = loadAdvisories(inputs.advisoryFolders);
    // A positive control: the Go database was read, and the programs' modules were listed.
    expect(advisories.perEcosystem.get("Go")).toBeGreaterThan(1000);
    const packages = auditedPackages(inputs);
    expect(packages.filter((p) => p.ecosystem === "Go" && p.name === "stdlib")).toHaveLength(3);
    const result = applyIgnores(
      findVulnerabilities(packages, advisories),
      readIgnores(ROOT),
      new Set(advisories.perEcosystem.keys()),
    );
    const open = result.failing.map(
      (f) => `${f.advisory} ${f.pkg.ecosystem}:${f.pkg.name}@${f.pkg.version} (${f.pkg.usedBy}) ${f.summary}`,
    );
    expect(open, "run `node ops/scan/cli.ts audit`, then update or add a reviewed entry").toEqual([]);
    expect(result.unused).toEqual([]);
  });

  it("has a reason for every ignore entry", () => {
    for (const entry of readIgnores(ROOT)) expect(entry.reason.length, entry.package).toBeGreaterThan(40);
  });
});

describe("go version -m", () => {
  it("lists the Go version and modules, replacements applied", () => {
    const text = [
      "/tools/server: go1.26.11",
      "\tpath\tgithub.com/livekit/livekit-server/cmd/server",
      "\tmod\tgithub.com/livekit/livekit-server\tv1.13.5\th1:x=",
      "\tdep\tgolang.org/x/net\tv0.57.0\th1:y=",
      "\tdep\tgithub.com/pion/ice/v4\tv4.0.1",
      "\t=>\tgithub.com/livekit/ice/v4\tv4.0.2\th1:z=",
      "\tbuild\tCGO_ENABLED=0",
    ].join("\n");
    expect(parseGoVersionM(text)).toEqual({
      go: "1.26.11",
      modules: [
        { path: "github.com/livekit/livekit-server", version: "v1.13.5" },
        { path: "golang.org/x/net", version: "v0.57.0" },
        { path: "github.com/livekit/ice/v4", version: "v4.0.2" },
      ],
    });
  });
});
