// The operator's site texts as pages receive them (lib/server/site.ts reads and checks them):
// the trust pages' texts and the crisis lines, each in German and optionally English.

/** A text in German and, optionally, English (German is shown where English is missing). */
export interface Localized {
  de: string;
  en?: string | undefined;
}

/** A crisis line: its name, number (shown and dialled) and when it answers. */
export interface CrisisLine {
  name: Localized;
  phone: string;
  hours?: Localized | undefined;
}

export interface Site {
  imprint: Localized | null;
  privacy: Localized | null;
  crisis: CrisisLine[];
}

/** The text in `lang`, German where there is none. */
export const inLanguage = (text: Localized, lang: string): string => (lang === "en" ? (text.en ?? text.de) : text.de);

/** The `tel:` link of a shown number. */
export const telHref = (phone: string): string => `tel:${phone.replace(/[ /-]/g, "")}`;
