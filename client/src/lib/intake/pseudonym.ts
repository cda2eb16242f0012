// The pseudonym rules the browser can check before anything is sent; the application service
// checks them again, together with the rules it keeps to itself (reserved words, mail
// providers). Mirrors appservice/src/intake/pseudonym.ts.

/** Why a pseudonym is refused: a key under `intake.errors` of the messages. */
export type PseudonymProblem =
  "pseudonymChars" | "pseudonymLength" | "pseudonymStart" | "pseudonymLetter" | "pseudonymDigits" | "pseudonymReserved";

/**
 * Stems that make a pseudonym pass for the service or its staff, anywhere in it and across
 * separators. The same list as the application service's `IMPERSONATING` (its unit test compares
 * them); the reasons are given there.
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
  "berat",
  "counsel",
  "moderat",
  "staff",
  "notruf",
  "polizei",
  "police",
];

/**
 * Checks a pseudonym as typed.
 *
 * @returns the problem, or `null` when the browser finds none
 */
export function pseudonymProblem(input: string): PseudonymProblem | null {
  if (!/^[A-Za-z0-9._-]*$/.test(input)) return "pseudonymChars";
  if (input.length < 3 || input.length > 30) return "pseudonymLength";
  if (!/^[A-Za-z0-9]/.test(input)) return "pseudonymStart";
  if (!/[A-Za-z]/.test(input)) return "pseudonymLetter";
  if ((input.match(/[0-9]/g) ?? []).length > 5) return "pseudonymDigits";
  const plain = input.toLowerCase().replace(/[._-]/g, "");
  const impersonates = (stem: string) =>
    plain.includes(stem) || (["i", "l"] as const).some((one) => readAs(plain, one).includes(readAs(stem, one)));
  if (IMPERSONATING.some(impersonates)) return "pseudonymReserved";
  return null;
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
 * `text` with its look-alikes read as the letters they pass for, as the application service
 * reads them (`readAs` in appservice/src/intake/pseudonym.ts).
 */
export function readAs(text: string, one: "i" | "l"): string {
  let read = text;
  for (const [from, to] of LOOK_ALIKES) read = read.replaceAll(from, to);
  read = read.replaceAll("1", one);
  return one === "i" ? read.replaceAll("l", "i") : read;
}
