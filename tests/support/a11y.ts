/**
 * Accessibility checks with axe-core, injected into a Playwright page by @axe-core/playwright:
 * the WCAG 2.2 level A and AA rules (the level we promise; 2.2 adds to 2.1 and 2.0, and drops
 * 4.1.1 Parsing, whose axe rules are tagged `wcag2a-obsolete` and so not run) and axe's best
 * practices (landmarks, one main heading, regions, ...), which catch what makes a page hard to
 * find one's way in with a screen reader even where no success criterion fails.
 *
 * axe also answers "incomplete" where it could not decide, e.g. a text's contrast over a
 * background image or under an overlapping element. Such a result is a failure here, like a
 * violation, unless it is on {@link CHECKED_BY_HAND}: a short list of cases that were looked at
 * by hand, each with the reason why it passes. Anything new must be fixed (so that axe can
 * decide) or checked and added there with its reason.
 *
 * One kind of undecided result is asked again instead: text that a scroll box of its own (the
 * chat's log, the workspace's list) cuts off at its edge. axe cannot judge what it sees cut off;
 * the text is scrolled to the middle of its box and axe asked once more about it alone, so that
 * it decides (pass or violation) as for any text in view. What is still undecided then (text
 * really covered by something) fails like any other.
 */
import { AxeBuilder } from "@axe-core/playwright";
import type { Page } from "playwright-core";

/** axe-core tags of the WCAG 2.2 A and AA success criteria (2.2 adds to 2.1, which adds to 2.0). */
export const WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];

/** The tags we check: WCAG 2.2 A and AA, and axe's best practices. */
export const CHECKED_TAGS = [...WCAG_22_AA, "best-practice"];

/** One broken rule, with the elements that break it: short enough to read in a test failure. */
export interface A11yViolation {
  /** axe rule id, e.g. `color-contrast`; `incomplete: <rule>` where axe could not decide. */
  rule: string;
  /** `minor`, `moderate`, `serious` or `critical`; for an incomplete result, why axe could not decide. */
  impact: string;
  /** What the rule asks for. */
  help: string;
  /** CSS selectors of the offending elements. */
  targets: string[];
}

/** An incomplete result that was checked by hand and passes. */
interface CheckedByHand {
  rule: string;
  /** axe's reason (the message key of the check that could not decide, e.g. `bgOverlap`). */
  reason: string;
  /** Which elements: matched against the node's CSS selector. */
  target: RegExp;
  /** Why it passes. */
  why: string;
}

/**
 * Incomplete results that were checked by hand (in German and English, light and dark, at 390
 * and 1280 px). Keep it short: fixing the page so that axe can decide is better.
 */
export const CHECKED_BY_HAND: readonly CheckedByHand[] = [
  {
    rule: "video-caption",
    reason: "caption",
    target: /^video\[aria-label="[^"]+"\]$/,
    why:
      "The call's two live camera pictures (lib/call/Call.svelte): a private real-time conversation, " +
      "not synchronised media that could carry a caption track (WCAG 1.2.2 is for prerecorded media; " +
      "1.2.4's live captions are for broadcast). Each video is named by its aria-label.",
  },
];

interface AxeNode {
  target: unknown[];
  any: { id: string; data?: unknown }[];
  all: { id: string; data?: unknown }[];
  none: { id: string; data?: unknown }[];
}

/** Why axe could not decide on a node: the message keys of its undecided checks. */
function reasons(node: AxeNode): string[] {
  return [...node.any, ...node.all, ...node.none].map((check) => {
    const data = check.data as { messageKey?: string } | string | null | undefined;
    const key = typeof data === "object" && data !== null ? data.messageKey : undefined;
    return key ? key : check.id;
  });
}

/** The widths every page is checked at: a phone and a desktop. */
export const WIDTHS = [390, 1280] as const;
const HEIGHTS: Record<(typeof WIDTHS)[number], number> = { 390: 844, 1280: 900 };

/**
 * Runs axe on the page as it is now (WCAG 2.2 A+AA and best practices) in the light and the dark
 * colour scheme, each at 390 and 1280 px wide, and returns the violations and the undecided
 * results that are not on {@link CHECKED_BY_HAND}; none is good. The page gets its viewport and
 * colour scheme back afterwards. Each finding names where it was found, e.g. `dark, 390 px`.
 */
export async function a11yViolations(page: Page): Promise<A11yViolation[]> {
  const viewport = page.viewportSize();
  const dark = await page.evaluate(() => matchMedia("(prefers-color-scheme: dark)").matches);
  // axe looks at the page where it is scrolled to. Scrolled down (e.g. to a form's errors), the
  // header lies under the sticky quick-exit bar, and axe can tell neither the contrast nor the
  // size of what it cannot see: checked from the top (axe reaches what lies below the fold).
  const scroll = await page.evaluate(() => [window.scrollX, window.scrollY] as const);
  const found: A11yViolation[] = [];
  try {
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: HEIGHTS[width] });
        await page.evaluate(() => window.scrollTo(0, 0));
        await settled(page);
        let findings = await axeOnce(page);
        // axe leaves undecided what changed while it looked: heading-order decides at the end of
        // a run from every heading it saw, and a text re-rendered meanwhile (a live list, a
        // message just decrypted) can read as its own background (equalRatio) or, seen once in
        // CI, as dark text on the dark page (a label beside three such messages). Asked once
        // more on the settled page: a real problem stays, a moving page does not.
        if (findings.length > 0 && findings.every((f) => f.rule.startsWith("incomplete: ") || isContrast(f))) {
          await settled(page);
          findings = await axeOnce(page);
        }
        for (const finding of findings)
          found.push({ ...finding, impact: `${finding.impact} (${colorScheme}, ${width} px)` });
      }
    }
  } finally {
    await page.emulateMedia({ colorScheme: dark ? "dark" : "light" });
    if (viewport) await page.setViewportSize(viewport);
    await page.evaluate(([x, y]) => window.scrollTo(x, y), scroll);
    await settled(page);
  }
  return found;
}

const isContrast = (finding: A11yViolation): boolean => finding.rule === "color-contrast";

/** Waits until the page has laid itself out anew (two animation frames). */
async function settled(page: Page): Promise<void> {
  await page.evaluate(
    () => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))),
  );
}

/** axe's reasons for leaving a text's contrast undecided when something lies over part of it. */
const COVERED = new Set(["elmPartiallyObscured", "elmPartiallyObscuring", "bgOverlap"]);

/**
 * Scrolls `target` to the middle of the scroll box it is in (not the page) and asks axe about its
 * contrast alone; the box gets its scroll position back. "undecided" where there is no such box
 * or axe still cannot decide.
 */
async function contrastInView(page: Page, target: string): Promise<"pass" | "violation" | "undecided"> {
  const box = await page.evaluateHandle((selector) => {
    const element = document.querySelector(selector);
    let box = element?.parentElement ?? null;
    while (box && box !== document.body && !/auto|scroll/.test(getComputedStyle(box).overflowY))
      box = box.parentElement;
    if (!element || !box || box === document.body || box.scrollHeight <= box.clientHeight) return null;
    const before = box.scrollTop;
    const shown = element.getBoundingClientRect();
    const frame = box.getBoundingClientRect();
    box.scrollTop += shown.top - frame.top - (box.clientHeight - shown.height) / 2;
    return { box, before };
  }, target);
  if (await box.evaluate((found) => found === null)) {
    await box.dispose();
    return "undecided";
  }
  try {
    await settled(page);
    const results = await new AxeBuilder({ page }).include(target).withRules(["color-contrast"]).analyze();
    if (results.violations.length > 0) return "violation";
    return results.incomplete.length > 0 ? "undecided" : "pass";
  } finally {
    await box.evaluate((found) => {
      if (found) found.box.scrollTop = found.before;
    });
    await box.dispose();
  }
}

/** The colours axe saw for a contrast failure, e.g. ` (#8a8a8a on #ffffff, 3.5:1)`; else "". */
function contrastSeen(node: AxeNode): string {
  const data = node.any.find((check) => check.id === "color-contrast")?.data as
    { fgColor?: string; bgColor?: string; contrastRatio?: number } | undefined;
  return data?.fgColor ? ` (${data.fgColor} on ${data.bgColor}, ${data.contrastRatio}:1)` : "";
}

/** One run of axe on the page as it is now. */
async function axeOnce(page: Page): Promise<A11yViolation[]> {
  const results = await new AxeBuilder({ page }).withTags(CHECKED_TAGS).analyze();
  const violations = results.violations.map((violation) => ({
    rule: violation.id,
    impact: violation.impact ?? "unknown",
    help: violation.help,
    targets: violation.nodes.map((node) => node.target.join(" ") + contrastSeen(node as unknown as AxeNode)),
  }));
  const undecided: A11yViolation[] = [];
  for (const result of results.incomplete) {
    const open = new Map<string, string[]>();
    for (const node of result.nodes as unknown as AxeNode[]) {
      const target = node.target.join(" ");
      if (result.id === "color-contrast" && reasons(node).every((reason) => COVERED.has(reason))) {
        const inView = await contrastInView(page, target);
        if (inView === "pass") continue;
        if (inView === "violation") {
          violations.push({ rule: result.id, impact: "in view", help: result.help, targets: [target] });
          continue;
        }
      }
      for (const reason of new Set(reasons(node))) {
        const checked = CHECKED_BY_HAND.some(
          (entry) => entry.rule === result.id && entry.reason === reason && entry.target.test(target),
        );
        if (!checked) open.set(reason, [...(open.get(reason) ?? []), target]);
      }
    }
    for (const [reason, targets] of open) {
      undecided.push({ rule: `incomplete: ${result.id}`, impact: reason, help: result.help, targets });
    }
  }
  return [...violations, ...undecided];
}
