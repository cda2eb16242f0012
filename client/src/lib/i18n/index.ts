/**
 * Translations: every string the client shows comes through {@link _}.
 *
 * Both dictionaries are small and bundled, so switching languages is synchronous: no loader,
 * no waiting. The message syntax is a small subset of ICU MessageFormat, all the client needs:
 * `{name}` inserts a value, and `{n, plural, one {# Nachricht} other {# Nachrichten}}` chooses
 * by the language's plural rules (`=0`-style exact matches too; `#` is the formatted number).
 * `messages.test.ts` checks that every message uses nothing else.
 */
import { derived, writable } from "svelte/store";
import de from "./de.json";
import en from "./en.json";
import { DEFAULT_LANGUAGE, type Language } from "./negotiate.ts";

/** A dictionary: nested objects whose leaves are messages. */
export interface Messages {
  [key: string]: string | Messages;
}

/** Values for a message's placeholders. */
export type MessageValues = Record<string, string | number>;

/** Options of a translation, shaped as svelte-i18n's were: `$_("key", { values: { n: 2 } })`. */
export interface TranslateOptions {
  values?: MessageValues;
}

/** A translation function for one language. */
export type Translate = (key: string, options?: TranslateOptions) => string;

const DICTIONARIES: Record<Language, Messages> = { de, en };

/**
 * The page's language. Set by the root layout from the server's choice; in the server process
 * it is global, which is safe because a page renders synchronously right after it is set.
 */
export const locale = writable<Language>(DEFAULT_LANGUAGE);

/** The translation function of the current {@link locale}: `$_("chat.send")`. */
export const _ = derived(locale, (language): Translate => translator(language));

/**
 * Makes the translation function of one language. A key that has no message in that language
 * falls back to German, then to the key itself, so a gap shows up on the page instead of an
 * empty space.
 */
export function translator(language: Language, dictionaries: Record<Language, Messages> = DICTIONARIES): Translate {
  return (key, options) => {
    const message = lookup(dictionaries[language], key) ?? lookup(dictionaries[DEFAULT_LANGUAGE], key);
    return message === undefined ? key : formatMessage(message, language, options?.values ?? {});
  };
}

/** Finds the message under a dotted key, or undefined. */
export function lookup(messages: Messages, key: string): string | undefined {
  let node: string | Messages | undefined = messages;
  for (const part of key.split(".")) {
    if (typeof node !== "object" || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return typeof node === "string" ? node : undefined;
}

/** `{n, plural, one {…} other {…}}`; the options hold no nested braces. */
const PLURAL = /\{\s*(\w+)\s*,\s*plural\s*,((?:\s*(?:=\d+|zero|one|two|few|many|other)\s*\{[^{}]*\})+)\s*\}/g;
const PLURAL_OPTION = /(=\d+|zero|one|two|few|many|other)\s*\{([^{}]*)\}/g;
const PLACEHOLDER = /\{\s*(\w+)\s*\}/g;

/** Each language's plural rules, made once: making them costs more than using them. */
const PLURAL_RULES = new Map<Language, Intl.PluralRules>();
function pluralRules(language: Language): Intl.PluralRules {
  let made = PLURAL_RULES.get(language);
  if (!made) PLURAL_RULES.set(language, (made = new Intl.PluralRules(language)));
  return made;
}

/** Each language's number format, made once and only for a number that needs one (below). */
const NUMBER_FORMATS = new Map<Language, Intl.NumberFormat>();

/**
 * A count as the language writes it. Whole numbers below 1000 are the same digits in every
 * language here (de, en: Latin digits, no grouping), and they are nearly all counts: the first
 * `Intl.NumberFormat` of a page costs 15 to 45 ms (in Lighthouse's trace of the desk, it was the
 * largest part of the task that shows the list), so it is made only for the others.
 */
function formatCount(count: number, language: Language): string {
  if (Number.isInteger(count) && Math.abs(count) < 1000) return String(count);
  let made = NUMBER_FORMATS.get(language);
  if (!made) NUMBER_FORMATS.set(language, (made = new Intl.NumberFormat(language)));
  return made.format(count);
}

/**
 * Fills a message's placeholders. A placeholder whose value is missing stays as written
 * (`{name}`), visible rather than silently empty.
 */
export function formatMessage(message: string, language: Language, values: MessageValues): string {
  const withPlurals = message.replace(PLURAL, (whole, name: string, body: string) => {
    const value = values[name];
    if (value === undefined) return whole;
    const count = Number(value);
    const options = new Map([...body.matchAll(PLURAL_OPTION)].map(([, selector, text]) => [selector, text]));
    const text = options.get(`=${count}`) ?? options.get(pluralRules(language).select(count)) ?? options.get("other");
    return (text ?? "").replaceAll("#", formatCount(count, language));
  });
  return withPlurals.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values[name];
    return value === undefined ? whole : String(value);
  });
}

/** The date formats the pages use, by name; English dates in the British order (2 December 2026). */
const DATE_STYLES = {
  /** "02.12.26, 14:05": a message's or a note's time. */
  dateTime: { dateStyle: "short", timeStyle: "short" },
  /** "02.12.2026". */
  date: { dateStyle: "medium" },
  /** "2. Dezember 2026". */
  longDate: { dateStyle: "long" },
  /** "2. Dezember 2026 um 14:05". */
  longDateTime: { dateStyle: "long", timeStyle: "short" },
} as const satisfies Record<string, Intl.DateTimeFormatOptions>;

const DATE_FORMATS = new Map<string, Intl.DateTimeFormat>();

/**
 * A date format of one language, made once: making one costs milliseconds (the chat's first
 * render after its messages arrive paid 7 ms for it, in Lighthouse's trace), using it almost nothing.
 */
export function dateFormat(language: Language, style: keyof typeof DATE_STYLES): Intl.DateTimeFormat {
  const key = `${language} ${style}`;
  let made = DATE_FORMATS.get(key);
  if (!made) {
    made = new Intl.DateTimeFormat(language === "en" ? "en-GB" : "de-DE", DATE_STYLES[style]);
    DATE_FORMATS.set(key, made);
  }
  return made;
}
