// What the operator says about themselves, for the trust pages and the crisis lines: the
// Impressum, the privacy notice, and crisis numbers shown next to 112 (CONNECTA_SITE_FILE, a JSON
// file; ops/site.sample.json). Plain text only, never markup: it is shown as paragraphs, so a
// mistake in the file cannot inject anything into our pages. Until a text is given, its page
// says so plainly instead of answering 404. Free of SvelteKit modules so unit tests can run it.
import { readFileSync } from "node:fs";
import type { Localized, Site } from "../site.ts";

/** The site when no file is given: placeholders for both pages and no crisis line but 112. */
export const NO_SITE: Site = { imprint: null, privacy: null, crisis: [] };

const LIMITS = { page: 50_000, name: 120, hours: 200 };
// Tab, line feed and printable characters only (no other control characters, no lone surrogates).
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

class SiteError extends Error {}

function text(value: unknown, where: string, max: number): string {
  if (typeof value !== "string" || value.trim() === "") throw new SiteError(`${where}: expected a text`);
  if (value.length > max) throw new SiteError(`${where}: longer than ${max} characters`);
  if (UNPRINTABLE.test(value) || !value.isWellFormed()) throw new SiteError(`${where}: contains control characters`);
  return value.replace(/\r\n?/g, "\n").trim();
}

function localized(value: unknown, where: string, max: number): Localized {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SiteError(`${where}: expected {"de": "…", "en": "…"}`);
  }
  const { de, en, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new SiteError(`${where}.${unknown}: unknown language (de and en only)`);
  return { de: text(de, `${where}.de`, max), ...(en === undefined ? {} : { en: text(en, `${where}.en`, max) }) };
}

/**
 * Validates the site file's content.
 *
 * @throws Error naming the first wrong field
 */
export function parseSite(json: string): Site {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new SiteError("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new SiteError("expected an object");
  const { imprint, privacy, crisis = [], ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new SiteError(`${unknown}: unknown field (imprint, privacy, crisis)`);
  if (!Array.isArray(crisis) || crisis.length > 5) throw new SiteError("crisis: expected a list of up to 5 lines");
  return {
    imprint: imprint === undefined ? null : localized(imprint, "imprint", LIMITS.page),
    privacy: privacy === undefined ? null : localized(privacy, "privacy", LIMITS.page),
    crisis: crisis.map((line: unknown, i) => {
      const where = `crisis[${i}]`;
      if (typeof line !== "object" || line === null) throw new SiteError(`${where}: expected {name, phone, hours}`);
      const { name, phone, hours } = line as Record<string, unknown>;
      const number = text(phone, `${where}.phone`, 30);
      if (!/^\+?[0-9][0-9 /-]{1,28}$/.test(number)) throw new SiteError(`${where}.phone: digits, spaces, / and - only`);
      return {
        name: localized(name, `${where}.name`, LIMITS.name),
        phone: number,
        ...(hours === undefined ? {} : { hours: localized(hours, `${where}.hours`, LIMITS.hours) }),
      };
    }),
  };
}

/**
 * Reads `CONNECTA_SITE_FILE` (unset: {@link NO_SITE}).
 *
 * @throws Error naming the variable, the file and the wrong field
 */
export function loadSite(path: string | undefined): Site {
  if (path === undefined || path.trim() === "") return NO_SITE;
  try {
    return parseSite(readFileSync(path.trim(), "utf8"));
  } catch (err) {
    const reason =
      err instanceof SiteError ? err.message : `cannot read (${(err as NodeJS.ErrnoException).code ?? "error"})`;
    throw new Error(`CONNECTA_SITE_FILE ${path}: ${reason}`, { cause: err });
  }
}
