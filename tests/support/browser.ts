/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
 * on our machines). Flags keep Chromium from calling home.
 */
import { chromium, type Browser } from "playwright-core";
import { loadStackConfig } from "../../ops/stack/config.ts";

/** Debian's Chromium, or CONNECTA_CHROMIUM. */
export const CHROMIUM = loadStackConfig().chromium;

/** Flags for every Chromium of ours: headless on a shared machine, nothing calls home. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
  // No name lookups at all: our pages are on IP addresses; anything else Chromium would look up
  // (its own services) is answered "not found" without asking DNS (tests/e2e/no-outflow.test.ts).
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost",
];

/** Launches headless Chromium from /usr/bin/chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS] });
}
