/**
 * The application service's modules form no import circle (type imports included): a feature
 * never imports a file that imports it, so each can be read and tested from the bottom up.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = dirname(fileURLToPath(import.meta.url));

/** Every module of src/ (tests left out) and the modules of src/ it imports. */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter(
    (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
  );
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const source = readFileSync(join(SRC, file), "utf8");
    const imported = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gms)].map((m) =>
      relative(SRC, resolve(SRC, dirname(file), m[1] ?? "")),
    );
    graph.set(file, imported);
  }
  return graph;
}

/** The first circle found by a depth-first walk, as the list of modules on it, or null. */
function findCircle(graph: Map<string, string[]>): string[] | null {
  const done = new Set<string>();
  const path: string[] = [];
  const walk = (file: string): string[] | null => {
    const onPath = path.indexOf(file);
    if (onPath >= 0) return [...path.slice(onPath), file];
    if (done.has(file)) return null;
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const circle = walk(next);
      if (circle) return circle;
    }
    path.pop();
    done.add(file);
    return null;
  };
  for (const file of graph.keys()) {
    const circle = walk(file);
    if (circle) return circle;
  }
  return null;
}

describe("the module graph", () => {
  it("sees the imports of the modules, type imports included", () => {
    const graph = importGraph();
    expect(graph.get("app.ts")).toContain("deps.ts");
    expect(graph.get("enquiries/routes.ts")).toContain("enquiries/workflow.ts");
  });

  it("has no import circle", () => {
    expect(findCircle(importGraph())).toBeNull();
  });

  it("would find a circle", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
    ]);
    expect(findCircle(graph)).toEqual(["a.ts", "b.ts", "c.ts", "a.ts"]);
  });
});
