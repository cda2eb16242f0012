/**
 * Keyboard-only driving of a page, for the accessibility promise that every flow works without
 * a mouse.
 */
import type { Page } from "playwright-core";

/** Presses Tab until the focused element matches `selector`. */
export async function tabTo(page: Page, selector: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** Moves through the focused radio group with the arrow keys until `value` is checked. */
export async function chooseRadio(page: Page, value: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const focused = await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.value);
    if (focused === value) {
      await page.keyboard.press("Space");
      return;
    }
    await page.keyboard.press("ArrowDown");
  }
  throw new Error(`no radio button ${value}`);
}

/** Whether the focused element shows a focus outline. */
export function focusVisible(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const el = document.activeElement;
    return el !== null && getComputedStyle(el).outlineStyle !== "none" && getComputedStyle(el).outlineWidth !== "0px";
  });
}

/** Tabs to `selector` and types `text` into it. */
export async function typeInto(page: Page, selector: string, text: string): Promise<void> {
  await tabTo(page, selector);
  await page.keyboard.type(text);
}
