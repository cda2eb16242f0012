/**
 * Does an advisory apply to a version? Advisories come in the OSV format (osv.dev's schema,
 * used by the GitHub Advisory Database, the Go vulnerability database and others): each
 * `affected` entry names a package and version ranges as ordered events (`introduced`,
 * `fixed`, `last_affected`, `limit`) and may list versions one by one. Versions are compared
 * as Semantic Versioning 2.0 (npm and Go modules use it; Go's `v` prefix and `+incompatible`
 * do not change the order).
 */

/** A parsed semantic version. */
interface SemVer {
  core: [number, number, number];
  pre: string[];
}

/** Parses `1.2.3`, `v1.2.3-rc.1+build`, `go1.26.8` (missing parts are 0); throws on anything else. */
export function parseSemver(text: string): SemVer {
  const match = /^(?:v|go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (!match) throw new Error(`not a semantic version: ${text}`);
  return {
    core: [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)],
    pre: match[4] ? match[4].split(".") : [],
  };
}

/** Negative, zero or positive as `a` is lower than, equal to or higher than `b`. */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  for (let i = 0; i < 3; i++) {
    const diff = x.core[i]! - y.core[i]!;
    if (diff !== 0) return Math.sign(diff);
  }
  // A pre-release sorts before its release; identifiers compare numerically when both are numbers.
  if (x.pre.length === 0 && y.pre.length === 0) return 0;
  if (x.pre.length === 0) return 1;
  if (y.pre.length === 0) return -1;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Math.sign(Number(p) - Number(q));
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** One range of an OSV `affected` entry. */
export interface OsvRange {
  type: string;
  events: { introduced?: string; fixed?: string; last_affected?: string; limit?: string }[];
}

/** An OSV `affected` entry. */
export interface OsvAffected {
  package?: { ecosystem?: string; name?: string };
  ranges?: OsvRange[];
  versions?: string[];
}

/** True when `version` is in one of the entry's ranges or its list of versions. */
export function versionAffected(version: string, affected: OsvAffected): boolean {
  const plain = (v: string) => v.replace(/^v/, "");
  if (affected.versions?.some((listed) => plain(listed) === plain(version))) return true;
  for (const range of affected.ranges ?? []) {
    // GIT ranges name commits: nothing to compare a released version with.
    if (range.type !== "SEMVER" && range.type !== "ECOSYSTEM") continue;
    if (inRange(version, range.events)) return true;
  }
  return false;
}

/** Walks the events in version order: `introduced` opens, `fixed`/`last_affected`/`limit` close. */
function inRange(version: string, events: OsvRange["events"]): boolean {
  const at = (event: OsvRange["events"][number]) =>
    event.introduced ?? event.fixed ?? event.last_affected ?? event.limit ?? "0";
  const order = (v: string) => (v === "0" ? "0.0.0-0" : v);
  const sorted = [...events].sort((a, b) => compareSemver(order(at(a)), order(at(b))));
  let affected = false;
  for (const event of sorted) {
    if (event.introduced !== undefined && compareSemver(version, order(event.introduced)) >= 0) affected = true;
    else if (event.fixed !== undefined && compareSemver(version, event.fixed) >= 0) affected = false;
    else if (event.limit !== undefined && compareSemver(version, event.limit) >= 0) affected = false;
    else if (event.last_affected !== undefined && compareSemver(version, event.last_affected) > 0) affected = false;
  }
  return affected;
}
