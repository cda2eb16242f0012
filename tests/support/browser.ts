/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
 * on our machines). Flags keep Chromium from calling home.
 */
import { chromium, type Browser } from "playwright-core";

/** Launches headless Chromium from /usr/bin/chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CONNECTA_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}
