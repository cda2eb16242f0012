/**
 * The Go programs ops/connecta builds (LiveKit, Helm, gitleaks) carry the list of modules they
 * were built from (`go version -m`). This module reads that list and finds each module's LICENSE
 * in the Go module cache, downloading through the Go module proxy what the cache lacks.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One module a binary was built from; `stdlib` is the Go standard library. */
export interface GoModule {
  path: string;
  version: string;
}

/** What `go version -m` says of a binary: the Go version and the modules (replacements applied). */
export function parseGoVersionM(text: string): { go: string; modules: GoModule[] } {
  const lines = text.split("\n");
  const go = /:\s+go(\d+\.\d+(?:\.\d+)?)/.exec(lines[0] ?? "")?.[1];
  if (!go) throw new Error(`no Go version in: ${lines[0]}`);
  const modules: GoModule[] = [];
  for (const line of lines) {
    const [kind, path, version] = line.trim().split(/\s+/);
    if ((kind === "mod" || kind === "dep") && path && version) modules.push({ path, version });
    // `=>` follows the module it replaces: the code built is the replacement's.
    if (kind === "=>" && path && version && !path.startsWith(".")) modules[modules.length - 1] = { path, version };
  }
  return { go, modules };
}

/** The go command: the machine's, or the one ops/connecta installs Go to. */
export function goCommand(): string {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
    return "go";
  } catch {
    return "/usr/local/go/bin/go";
  }
}

/** `go version -m` of a binary, parsed. */
export function goBinaryModules(binary: string): { go: string; modules: GoModule[] } {
  return parseGoVersionM(execFileSync(goCommand(), ["version", "-m", binary], { encoding: "utf8" }));
}

/** The module cache folder of a module version (capitals are written `!x` there). */
function cacheDir(modcache: string, module: GoModule): string {
  const escaped = module.path.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
  return join(modcache, `${escaped}@${module.version}`);
}

/** The text of each module's LICENSE (or COPYING) file, null where it has none. */
export function goLicenceTexts(modules: GoModule[]): Map<string, string | null> {
  const go = goCommand();
  const modcache = execFileSync(go, ["env", "GOMODCACHE"], { encoding: "utf8" }).trim();
  const missing = modules.filter((m) => !existsSync(cacheDir(modcache, m)));
  if (missing.length > 0) {
    // Outside a module `go mod download` takes module@version arguments; GOFLAGS from the
    // environment could ask for a vendor folder that is not there.
    execFileSync(go, ["mod", "download", ...missing.map((m) => `${m.path}@${m.version}`)], {
      stdio: ["ignore", "ignore", "inherit"],
      cwd: modcache,
      env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
    });
  }
  const texts = new Map<string, string | null>();
  for (const module of modules) {
    const dir = cacheDir(modcache, module);
    const file = readdirSync(dir).find((name) => /^(LICEN[CS]E|COPYING)(\.(md|txt|mit))?$/i.test(name));
    texts.set(`${module.path}@${module.version}`, file ? readFileSync(join(dir, file), "utf8") : null);
  }
  return texts;
}
