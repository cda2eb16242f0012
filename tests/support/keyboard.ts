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
  const where = await page.evaluate((s) => {
    const el = document.querySelector(s);
    if (!el) return "it is not on the page";
    return el.matches(":disabled") ? "it is disabled" : "it is on the page and enabled";
  }, selector);
  throw new Error(`Tab never reached ${selector}: ${where}`);
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

/**
 * Presses Tab (or Shift+Tab with `backwards`) until the focused element's text or accessible
 * label contains `text`: for buttons and links, which have no stable selector of their own.
 */
export async function tabToText(page: Page, text: string, backwards = false): Promise<void> {
  for (let i = 0; i < 80; i++) {
    const label = await page.evaluate(() => {
      const el = document.activeElement;
      return el === null || el === document.body
        ? ""
        : `${el.getAttribute("aria-label") ?? ""} ${el.textContent ?? ""}`;
    });
    if (label.includes(text)) return;
    await page.keyboard.press(backwards ? "Shift+Tab" : "Tab");
  }
  throw new Error(`Tab never reached an element with the text ${JSON.stringify(text)}`);
}

/**
 * Attaches `file` in the chat's composer and sends it, by keyboard only: Space on the attach
 * button opens the file chooser, the preview shows the file, Enter on Send sends it.
 * Playwright catches the chooser only once its interception is on in the browser; under load a
 * press can come first and open an uncaught (invisible) dialog, so a press that shows no chooser
 * within 10 s is repeated, twice at most.
 */
export async function sendFileByKeyboard(
  page: Page,
  file: { name: string; mimeType: string; buffer: Buffer },
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    // While a message is on its way the composer's buttons are disabled (and not reachable by
    // Tab): a person waits until it has gone.
    await page.locator("form.composer button.attach:not([disabled])").waitFor({ timeout: 60_000 });
    await tabTo(page, "form.composer button.attach");
    const chooser = page.waitForEvent("filechooser", { timeout: 10_000 });
    await page.keyboard.press("Space");
    try {
      await (await chooser).setFiles(file);
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
  await page.getByTestId("attachment-preview").filter({ hasText: file.name }).waitFor();
  await tabTo(page, "form.composer button[type=submit]");
  await page.keyboard.press("Enter");
  await page.getByTestId("attachment-preview").waitFor({ state: "detached", timeout: 60_000 });
}
