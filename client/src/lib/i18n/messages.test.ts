import { describe, expect, it } from "vitest";
import de from "./de.json";
import en from "./en.json";
import { formatMessage, lookup, translator } from "./index.ts";

/** Lists the dotted keys of all strings in a nested message object. */
function keys(messages: object, prefix = ""): string[] {
  return Object.entries(messages).flatMap(([key, value]: [string, unknown]) =>
    typeof value === "object" && value !== null ? keys(value, `${prefix}${key}.`) : [`${prefix}${key}`],
  );
}

describe("translations", () => {
  it("have the same keys in German and English", () => {
    expect(keys(en).sort()).toEqual(keys(de).sort());
  });

  it("have no empty strings", () => {
    for (const messages of [de, en]) {
      const empty = keys(messages).filter((key) => {
        const value = key.split(".").reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], messages);
        return typeof value !== "string" || value.trim() === "";
      });
      expect(empty).toEqual([]);
    }
  });
});

describe("formatMessage", () => {
  it("inserts values and leaves a placeholder without a value visible", () => {
    expect(formatMessage("Datei {name} speichern", "de", { name: "a.pdf" })).toBe("Datei a.pdf speichern");
    expect(formatMessage("höchstens {max} MB", "de", {})).toBe("höchstens {max} MB");
  });

  it("does not read placeholders inside inserted values", () => {
    expect(formatMessage("{name} ({max} MB)", "de", { name: "{max}.pdf", max: 10 })).toBe("{max}.pdf (10 MB)");
  });

  it("chooses plural forms by the language's rules, exact matches first", () => {
    const message = "{n, plural, =0 {keine} one {# Nachricht} other {# Nachrichten}}";
    expect(formatMessage(message, "de", { n: 0 })).toBe("keine");
    expect(formatMessage(message, "de", { n: 1 })).toBe("1 Nachricht");
    expect(formatMessage(message, "de", { n: 1200 })).toBe("1.200 Nachrichten");
    expect(formatMessage(message, "en", { n: 1200 })).toBe("1,200 Nachrichten");
    // Below 1000 the digits alone (no number format made); fractions through the language's format.
    expect(formatMessage(message, "de", { n: 999 })).toBe("999 Nachrichten");
    expect(formatMessage(message, "de", { n: 2.5 })).toBe("2,5 Nachrichten");
    expect(formatMessage(message, "en", { n: 2.5 })).toBe("2.5 Nachrichten");
  });
});

describe("translator", () => {
  const dictionaries = { de: { a: { b: "Hallo {name}" }, only: "nur deutsch" }, en: { a: { b: "Hello {name}" } } };

  it("looks up dotted keys in the chosen language", () => {
    expect(translator("en", dictionaries)("a.b", { values: { name: "Kim" } })).toBe("Hello Kim");
    expect(translator("de", dictionaries)("a.b", { values: { name: "Kim" } })).toBe("Hallo Kim");
  });

  it("falls back to German, then to the key", () => {
    expect(translator("en", dictionaries)("only")).toBe("nur deutsch");
    expect(translator("en", dictionaries)("a.missing")).toBe("a.missing");
    expect(translator("en", dictionaries)("a")).toBe("a");
    expect(translator("en", dictionaries)("toString")).toBe("toString");
  });

  it("translates the real unread-count message in both languages", () => {
    expect(translator("de")("desk.unread", { values: { n: 1 } })).toBe("1 ungelesene Nachricht");
    expect(translator("en")("desk.unread", { values: { n: 3 } })).toBe("3 unread messages");
  });
});

describe("counts", () => {
  /** Nouns after a number, in the plural: wrong after 1 ("1 Minuten"). */
  const PLURAL_NOUN =
    /\b1 (Minuten|Stunden|Tagen|Tage|Schlüsseln|Nachrichten|Anhänge|Gespräche|minutes|hours|days|keys|messages|files)\b/;

  it("say 1 in the singular and 2 in the plural in every message, through ICU plural rules", () => {
    for (const [language, messages] of [
      ["de", de],
      ["en", en],
    ] as const) {
      for (const key of keys(messages)) {
        const message = lookup(messages, key) ?? "";
        const names = [...message.matchAll(/\{\s*(\w+)/g)].map(([, name]) => name as string);
        const one = formatMessage(message, language, Object.fromEntries(names.map((name) => [name, 1])));
        expect(PLURAL_NOUN.exec(one)?.[0], `${language} ${key}`).toBeUndefined();
      }
    }
  });

  it("read as people write them", () => {
    const de = translator("de");
    const en = translator("en");
    expect(de("session.idleHint", { values: { minutes: 1 } })).toContain("Nach 1 Minute ohne Eingabe");
    expect(de("session.idleHint", { values: { minutes: 15 } })).toContain("Nach 15 Minuten ohne Eingabe");
    expect(en("login.errors.tooMany", { values: { minutes: 1 } })).toBe(
      "Too many attempts. Please wait about 1 minute.",
    );
    expect(de("keys.restoreCount", { values: { done: 1, total: 1 } })).toBe("1 von 1 Schlüssel wiederhergestellt");
    expect(de("conversation.reopenUntil", { values: { date: "16. Dezember 2026", days: 1 } })).toContain("noch 1 Tag)");
    expect(en("conversation.next.close", { values: { days: 14 } })).toContain("for 14 days");
    expect(de("desk.waitingDays", { values: { n: 1 } })).toBe("wartet seit 1 Tag");
  });
});

describe("every message", () => {
  it("uses only {name} placeholders and plurals, and all of them are filled", () => {
    for (const [language, messages] of [
      ["de", de],
      ["en", en],
    ] as const) {
      for (const key of keys(messages)) {
        const message = lookup(messages, key) ?? "";
        const names = [...message.matchAll(/\{\s*(\w+)/g)].map(([, name]) => name as string);
        const values = Object.fromEntries(names.map((name) => [name, 2]));
        const formatted = formatMessage(message, language, values);
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
        expect({ key, formatted }).toEqual({ key, formatted: expect.not.stringMatching(/[{}]/) });
      }
    }
  });
});
