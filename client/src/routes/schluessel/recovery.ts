/**
 * The recovery key as a file a seeker can keep: its name must not out them to whoever looks at
 * their downloads folder (no "connecta", "recovery", "schluessel", "beratung"), so it is named
 * like any note of the day.
 */

/** `notiz-2026-12-02.txt` (German) or `note-2026-12-02.txt`, by the local date of `now`. */
export function recoveryFileName(now: Date, language: "de" | "en"): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return `${language === "en" ? "note" : "notiz"}-${day}.txt`;
}

/** The file's text: one neutral line, then the key. */
export function recoveryFileText(intro: string, recoveryKey: string): string {
  return `${intro}\n\n${recoveryKey}\n`;
}
