/**
 * The password check the web client does before a seeker registers. The password goes to
 * Synapse only (which enforces a minimum length of 10); the application service never sees it,
 * so the client refuses common passwords itself, against a list shipped with the client:
 *
 * ```ts
 * const list = await loadCommonPasswords();
 * if (isCommonPassword(password, list, [pseudonym])) ...
 * ```
 */

let commonPasswords: Promise<ReadonlySet<string>> | undefined;

/**
 * The list of common passwords (`common-passwords.txt`), fetched on first use: a file of its own
 * (about 8 kB gzipped) that no page needs before a password is checked. A failed fetch is tried
 * again on the next call.
 */
export function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  const loading = (commonPasswords ??= import("./common-passwords.txt?raw").then((m) => parsePasswordList(m.default)));
  loading.catch(() => {
    if (commonPasswords === loading) commonPasswords = undefined;
  });
  return loading;
}

/** Reads the list: one password a line, `#` starts a comment line; compared in lower case. */
export function parsePasswordList(text: string): Set<string> {
  const list = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const word = line.trim().toLowerCase();
    if (word && !word.startsWith("#")) list.add(word);
  }
  return list;
}

/** Digits and signs people write for letters ("p4ssw0rd"). */
const LEET: Record<string, string> = { "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", $: "s" };

/**
 * True when `password` is common: on the list as it is, written with digits for letters, or with
 * digits and signs around a listed word ("Sommer2024!", "123hallo"); a single repeated character;
 * or containing one of `avoid` (say, the pseudonym) of three characters or more. Case does not
 * matter.
 */
export function isCommonPassword(password: string, list: ReadonlySet<string>, avoid: readonly string[] = []): boolean {
  const p = password.normalize("NFKC").toLowerCase();
  if (/^(.)\1*$/su.test(p)) return true;
  if (avoid.some((word) => word.length >= 3 && p.includes(word.toLowerCase()))) return true;
  // The word between leading and trailing digits and signs ("Sommer2024!" -> "sommer").
  const core = p.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, "");
  const unleet = (s: string) => s.replace(/[0134573@$]/g, (c) => LEET[c] ?? c);
  return [p, core, unleet(p), unleet(core)].some((form) => form.length >= 3 && list.has(form));
}
