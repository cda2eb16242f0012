/**
 * Accessibility checks with axe-core, injected into a Playwright page by @axe-core/playwright:
 * the WCAG 2.0/2.1/2.2 level A and AA rules (the level we promise) and axe's best practices
 * (landmarks, one main heading, regions, ...), which catch what makes a page hard to find one's
 * way in with a screen reader even where no success criterion fails.
 */
import { AxeBuilder } from "@axe-core/playwright";
import type { Page } from "playwright-core";

/** axe-core tags of the WCAG 2.1 A and AA success criteria (2.1 adds to 2.0). */
export const WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];

/** axe-core tags of the WCAG 2.2 A and AA success criteria (2.2 adds to 2.1, e.g. target size). */
export const WCAG_22_AA = [...WCAG_21_AA, "wcag22a", "wcag22aa"];

/** The tags we check: WCAG 2.2 A and AA, and axe's best practices. */
export const CHECKED_TAGS = [...WCAG_22_AA, "best-practice"];

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

/**
 * Runs axe on the page as it is now (WCAG 2.2 A+AA and best practices) and returns the
 * violations; none is good.
 */
export async function a11yViolations(page: Page): Promise<A11yViolation[]> {
  const results = await new AxeBuilder({ page }).withTags(CHECKED_TAGS).analyze();
  return results.violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact ?? "unknown",
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(" ")),
  }));
}
