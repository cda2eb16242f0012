/** Languages the client is translated into. German is the default. */
export const LANGUAGES = ["de", "en"] as const;

/** One of {@link LANGUAGES}. */
export type Language = (typeof LANGUAGES)[number];

/** The language used when nothing in the request asks for a supported one. */
export const DEFAULT_LANGUAGE: Language = "de";

/** Name of the cookie that remembers a language chosen on the page. */
export const LANGUAGE_COOKIE = "lang";

/**
 * Tells whether a value names a supported language.
 *
 * @param value - any string, or null/undefined when absent
 * @returns true for exactly `'de'` or `'en'`
 */
export function isLanguage(value: string | null | undefined): value is Language {
  return (LANGUAGES as readonly (string | null | undefined)[]).includes(value);
}

/** What a request says about its language. Each part may be missing. */
export interface LanguageHints {
  /** Value of the `?lang=` query parameter. */
  query?: string | null | undefined;
  /** Value of the {@link LANGUAGE_COOKIE} cookie. */
  cookie?: string | null | undefined;
  /** The `Accept-Language` request header. */
  acceptLanguage?: string | null | undefined;
}

/**
 * Picks the language of a response: a valid `?lang=` parameter first, then a valid cookie,
 * then the supported language the browser ranks highest in `Accept-Language`, else German.
 *
 * @param hints - query parameter, cookie and `Accept-Language` of the request
 * @returns the language to render
 */
export function negotiateLanguage(hints: LanguageHints): Language {
  if (isLanguage(hints.query)) return hints.query;
  if (isLanguage(hints.cookie)) return hints.cookie;
  return fromAcceptLanguage(hints.acceptLanguage ?? "") ?? DEFAULT_LANGUAGE;
}

/**
 * Reads an `Accept-Language` header (e.g. `en-GB,en;q=0.9,de;q=0.8`).
 * Ranges are compared by their primary subtag; `*` and unknown languages are ignored.
 * Of equal weights the earlier range wins.
 *
 * @returns the best supported language, or undefined if the header names none
 */
function fromAcceptLanguage(header: string): Language | undefined {
  let best: Language | undefined;
  let bestWeight = 0;

  for (const part of header.split(",")) {
    const [range = "", ...params] = part.split(";").map((s) => s.trim());
    const primary = range.split("-")[0]?.toLowerCase();
    if (!isLanguage(primary)) continue;

    const weight = parseWeight(params);
    if (weight > bestWeight) {
      best = primary;
      bestWeight = weight;
    }
  }
  return best;
}

/** Returns the `q=` weight among the parameters of one range (default 1; invalid counts as 0). */
function parseWeight(params: string[]): number {
  const q = params.find((p) => /^q=/i.test(p));
  if (q === undefined) return 1;
  const value = q.slice(2).trim();
  // RFC 9110: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0;
}
