/**
 * Accessibility checks with axe-core, injected into a Playwright page by @axe-core/playwright.
 * Only WCAG 2.0/2.1 level A and AA rules run: the level we promise.
 */
import { AxeBuilder } from "@axe-core/playwright";
import type { Page } from "playwright-core";

/** axe-core tags of the WCAG 2.1 A and AA success criteria (2.1 adds to 2.0). */
export const WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/** One broken rule, with the elements that break it: short enough to read in a test failure. */
export interface A11yViolation {
  /** axe rule id, e.g. `color-contrast`. */
  rule: string;
  /** `minor`, `moderate`, `serious` or `critical`. */
  impact: string;
  /** What the rule asks for. */
  help: string;
  /** CSS selectors of the offending elements. */
  targets: string[];
}

/** Runs axe on the page as it is now (WCAG 2.1 A+AA) and returns the violations; none is good. */
export async function a11yViolations(page: Page): Promise<A11yViolation[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_21_AA).analyze();
  return results.violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact ?? "unknown",
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(" ")),
  }));
}
