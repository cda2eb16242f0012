/**
 * The rules for a seeker's pseudonym, which becomes their Matrix localpart (`@pseudonym:server`).
 * A pseudonym must not identify the person (no e-mail address, no phone number) and must not
 * pass for the service or its staff (no "admin", "beratung", "connecta-team", ...). Only plain
 * ASCII letters, digits and `. _ -` are allowed, so look-alike letters, zero-width and
 * direction-changing characters fail on the first rule with a message a person understands.
 */

/** Shortest and longest pseudonym. */
export const PSEUDONYM_LENGTH = { min: 3, max: 30 } as const;

/** More digits than this make a pseudonym look like a phone number or a birth date. */
export const MAX_DIGITS = 5;

/**
 * A pseudonym containing one of these, anywhere and also across separators ("a-d-m-i-n"), passes
 * for the service or its staff: counsellors and seekers see each other's names, and a seeker
 * called "connecta-team" or "beratung.support" could speak as the service or as a counsellor.
 * Word stems, German and English, kept short: each names the service (connecta, system, notice,
 * official, offiziell), a role of staff (admin, operator, support, team, berat, counsel, moderat,
 * staff), or an authority a person in crisis would trust (notruf, polizei, police). A seeker who
 * happens to write "badminton" or "steampunk" is asked kindly for another name; that costs less
 * than a counsellor look-alike. The web client mirrors the list (client/src/lib/intake/pseudonym.ts).
 */
export const IMPERSONATING = [
  "connecta",
  "system",
  "notice",
  "official",
  "offiziell",
  "admin",
  "operator",
  "support",
  "team",
  "berat", // beratung, berater, beraterin, beratungsstelle
  "counsel", // counsellor, counselor, counselling
  "moderat", // moderator, moderation
  "staff",
  "notruf",
  "polizei",
  "police",
];

/** A part of the pseudonym equal to one of these passes for the system. */
const RESERVED_WORDS = [
  "bot",
  "mod",
  "root",
  "service",
  "server",
  "synapse",
  "matrix",
  "help",
  "hilfe",
  "info",
  "kontakt",
  "contact",
  "abuse",
  "leitung",
  "security",
  "postmaster",
  "webmaster",
  "hostmaster",
  "noreply",
];

/** Endings of a pseudonym that make it look like an e-mail or web address (a top-level domain). */
const ADDRESS_ENDINGS = /\.(com|de|net|org|info|eu|at|ch|io|me|biz|online|email|mail)$/;

/** A part of the pseudonym starting with one of these (mail providers) looks like an e-mail address. */
const MAIL_PROVIDERS = [
  "gmail",
  "googlemail",
  "gmx",
  "webde",
  "yahoo",
  "hotmail",
  "outlook",
  "tonline",
  "icloud",
  "posteo",
  "protonmail",
  "mailbox",
  "freenet",
  "arcor",
  "aol",
];

/** The outcome of {@link checkPseudonym}: the normalised pseudonym or why it is refused. */
export type PseudonymCheck = { ok: true; pseudonym: string } | { ok: false; reason: string };

/** Checks a pseudonym as typed and normalises it to lower case. */
export function checkPseudonym(input: string): PseudonymCheck {
  const refuse = (reason: string): PseudonymCheck => ({ ok: false, reason });
  // The character rule comes first and looks at the input as typed: lower-casing first would turn
  // look-alikes such as the Kelvin sign (U+212A) into a plain "k".
  if (!/^[A-Za-z0-9._-]*$/.test(input)) {
    return refuse(
      "The pseudonym may only contain the letters a-z, digits and the characters . _ - " +
        "(no spaces, umlauts, accents or other special characters)",
    );
  }
  if (input.length < PSEUDONYM_LENGTH.min || input.length > PSEUDONYM_LENGTH.max) {
    return refuse(`The pseudonym must be ${PSEUDONYM_LENGTH.min} to ${PSEUDONYM_LENGTH.max} characters long`);
  }
  const pseudonym = input.toLowerCase();
  if (!/^[a-z0-9]/.test(pseudonym)) return refuse("The pseudonym must start with a letter or a digit");
  if (!/[a-z]/.test(pseudonym)) return refuse("The pseudonym must contain at least one letter");
  if ((pseudonym.match(/[0-9]/g) ?? []).length > MAX_DIGITS) {
    return refuse(
      `The pseudonym must not contain more than ${MAX_DIGITS} digits: ` +
        "it must not look like a phone number or a birth date",
    );
  }
  // The whole pseudonym, it without separators ("t-online" -> "tonline"), and each part between them.
  const parts = [pseudonym, pseudonym.replace(/[._-]/g, ""), ...pseudonym.split(/[._-]+/)];
  const partStartsWith = (prefixes: string[]) => parts.some((part) => prefixes.some((p) => part.startsWith(p)));
  if (ADDRESS_ENDINGS.test(pseudonym) || partStartsWith(MAIL_PROVIDERS)) {
    return refuse("The pseudonym must not look like an e-mail or web address");
  }
  if (impersonates(pseudonym) || parts.some((part) => RESERVED_WORDS.includes(part))) {
    return refuse("This pseudonym is reserved; please choose another one");
  }
  return { ok: true, pseudonym };
}

/** Digits and letter pairs that pass for letters: "c0nnecta", "adrnin", "5upport". */
const LOOK_ALIKES: [string, string][] = [
  ["0", "o"],
  ["3", "e"],
  ["4", "a"],
  ["5", "s"],
  ["7", "t"],
  ["8", "b"],
  ["rn", "m"],
  ["vv", "w"],
];

/**
 * `text` with its look-alikes read as the letters they pass for; a "1" as `one`, and when `one`
 * is "i", every "l" as an "i" too ("po1izei", "offlziell"). The web client reads them the same
 * way (client/src/lib/intake/pseudonym.ts).
 */
export function readAs(text: string, one: "i" | "l"): string {
  let read = text;
  for (const [from, to] of LOOK_ALIKES) read = read.replaceAll(from, to);
  read = read.replaceAll("1", one);
  return one === "i" ? read.replaceAll("l", "i") : read;
}

/** True when `pseudonym` contains one of {@link IMPERSONATING}, also across separators and in look-alikes. */
export function impersonates(pseudonym: string): boolean {
  const plain = pseudonym.toLowerCase().replace(/[._-]/g, "");
  return IMPERSONATING.some(
    (stem) =>
      plain.includes(stem) || (["i", "l"] as const).some((one) => readAs(plain, one).includes(readAs(stem, one))),
  );
}
