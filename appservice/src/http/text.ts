/**
 * Text from outside, checked at the edge. PostgreSQL refuses U+0000 in `text` and `jsonb`, and
 * lone surrogates (`"\ud800"` in JSON) in `jsonb`; both used to reach SQL and turn into 500s. So
 * every string we are given is checked once, where it comes in: our API (body, path parameters,
 * query) in api.ts, Synapse's transactions in transactions.ts. Pure: no I/O.
 *
 * Two kinds of text: free text (an absence message, a command) may hold tab, line feed and
 * carriage return; ids (Matrix ids, transaction ids, path parameters, query values) hold no
 * control character at all. Lone surrogates are refused in both.
 */

/** What a string is for: free text or an id. */
export type TextKind = "text" | "id";

/** C0 controls, DEL and C1 controls. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The same without tab, line feed and carriage return. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
const CONTROL_GLOBAL = new RegExp(CONTROL.source, "g");
const CONTROL_IN_TEXT_GLOBAL = new RegExp(CONTROL_IN_TEXT.source, "g");

/** Why `value` may not be used as text of `kind`, or null when it may. */
export function textProblem(value: string, kind: TextKind): string | null {
  if (!value.isWellFormed()) return "must be valid Unicode (it holds a lone surrogate)";
  if ((kind === "id" ? CONTROL : CONTROL_IN_TEXT).test(value)) return "must not contain control characters";
  return null;
}

/**
 * `value` with every character {@link textProblem} objects to replaced by U+FFFD, for text we
 * must keep or answer although it is broken (a counsellor's command, an id we record as skipped).
 */
export function cleanText(value: string, kind: TextKind): string {
  return value.toWellFormed().replace(kind === "id" ? CONTROL_GLOBAL : CONTROL_IN_TEXT_GLOBAL, "\ufffd");
}

/** A string found by {@link findBadText}: where it is (`a.b.0`, or `a.b (key)`) and why it is refused. */
export interface BadText {
  path: string;
  problem: string;
}

/**
 * The first string in a parsed JSON value (object keys included) that may not be used as text
 * of `kind`, or null. Walks without recursion, so a deeply nested body cannot overflow the stack.
 */
export function findBadText(value: unknown, kind: TextKind): BadText | null {
  const stack: [unknown, string][] = [[value, ""]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, path] = next;
    if (typeof item === "string") {
      const problem = textProblem(item, kind);
      if (problem) return { path, problem };
    } else if (Array.isArray(item)) {
      item.forEach((element, i) => stack.push([element, path ? `${path}.${i}` : String(i)]));
    } else if (typeof item === "object" && item !== null) {
      for (const [key, element] of Object.entries(item)) {
        const keyProblem = textProblem(key, kind);
        if (keyProblem) return { path: `${path ? `${path}.` : ""}${cleanText(key, "id")} (key)`, problem: keyProblem };
        stack.push([element, path ? `${path}.${key}` : key]);
      }
    }
  }
  return null;
}
