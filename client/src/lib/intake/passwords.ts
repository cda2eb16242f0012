/**
 * The password check the web client does before a seeker registers. The password goes to
 * Synapse only (which enforces a minimum length of 10); the application service never sees it,
 * so the client refuses common passwords itself, against a list shipped with the client:
 *
 * ```ts
 * const list = await loadCommonPasswords();
 * const why = passwordProblem(password, list, [pseudonym]); // "listed", "personal", ... or null
 * ```
 *
 * Each refusal has its reason, so that the page can say what exactly to change.
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
 * Why a password is easy to guess:
 * - `repeated`: one character, repeated ("aaaaaaaaaa");
 * - `personal`: it contains one of `avoid` (say, the pseudonym) of three characters or more;
 * - `listed`: it is on the list as it is;
 * - `disguised`: a listed word with digits for letters ("p4ssw0rt") or digits and signs around
 *   it ("Sommer2024!", "123hallo").
 */
export type PasswordProblem = "repeated" | "personal" | "listed" | "disguised";

/** Why `password` is easy to guess (see {@link PasswordProblem}), or null. Case does not matter. */
export function passwordProblem(
  password: string,
  list: ReadonlySet<string>,
  avoid: readonly string[] = [],
): PasswordProblem | null {
  const p = password.normalize("NFKC").toLowerCase();
  if (/^(.)\1*$/su.test(p)) return "repeated";
  if (avoid.some((word) => word.length >= 3 && p.includes(word.toLowerCase()))) return "personal";
  if (list.has(p)) return "listed";
  // The word between leading and trailing digits and signs ("Sommer2024!" -> "sommer").
  const core = p.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, "");
  const unleet = (s: string) => s.replace(/[0134573@$]/g, (c) => LEET[c] ?? c);
  return [core, unleet(p), unleet(core)].some((form) => form.length >= 3 && list.has(form)) ? "disguised" : null;
}

/** True when `password` is easy to guess for any reason of {@link passwordProblem}. */
export function isCommonPassword(password: string, list: ReadonlySet<string>, avoid: readonly string[] = []): boolean {
  return passwordProblem(password, list, avoid) !== null;
}
