/**
 * Reads a value from a registry's exposition text, as Prometheus scrapes it: the tests check
 * what an operator's Prometheus would see, not prom-client's objects.
 */
import type { Registry } from "prom-client";

/** The value of the series `name{labels}` (all of `labels` match) in `registry`, or undefined. */
export async function scraped(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await registry.metrics();
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(match[3]);
  }
  return undefined;
}
