/**
 * Licence checks: is what a dependency declares compatible with Connecta's AGPL-3.0-or-later?
 * A declaration is an SPDX expression (`MIT`, `(Apache-2.0 OR BSD-3-Clause)`,
 * `GPL-2.0-or-later WITH Classpath-exception-2.0`); `OR` needs one acceptable side, `AND` needs
 * both. Older packages say it in words (`Apache 2.0`, `BSD License`, a trove classifier) or only
 * in a LICENSE file: `normalise` and `classifyText` turn the common forms into SPDX, and anything
 * they cannot name is "unknown" and fails until a person reviews it (ops/scan/licence-exceptions.json).
 */

/**
 * Licences a work under AGPL-3.0-or-later may include (the FSF's list of GPLv3-compatible free
 * software licences; GPL/LGPL "only" versions that are 3.0, or that allow "any later version").
 */
export const ALLOWED_LICENCES: ReadonlySet<string> = new Set([
  "0BSD",
  "AGPL-3.0-only",
  "AGPL-3.0-or-later",
  "Apache-2.0",
  "BlueOak-1.0.0",
  "BSD-2-Clause",
  "BSD-3-Clause",
  "BSL-1.0",
  "CC0-1.0",
  "GPL-2.0-or-later",
  "GPL-3.0-only",
  "GPL-3.0-or-later",
  "ISC",
  // LGPL 2.x lets anyone apply the GPL (version 2 "or any later version") instead (its section 3).
  "LGPL-2.0-only",
  "LGPL-2.0-or-later",
  "LGPL-2.1-only",
  "LGPL-2.1-or-later",
  "LGPL-3.0-only",
  "LGPL-3.0-or-later",
  "MIT",
  "MIT-0",
  "MIT-CMU",
  "MPL-2.0",
  "PSF-2.0",
  "Python-2.0",
  "Unlicense",
  "X11",
  "Zlib",
  "ZPL-2.1",
]);

/** Exceptions (`X WITH Y`) that only grant more. */
const ALLOWED_EXCEPTIONS: ReadonlySet<string> = new Set([
  "Classpath-exception-2.0",
  "GCC-exception-3.1",
  "LLVM-exception",
]);

/** Deprecated SPDX ids and their current names. */
const DEPRECATED: Readonly<Record<string, string>> = {
  "AGPL-3.0": "AGPL-3.0-only",
  "AGPL-3.0+": "AGPL-3.0-or-later",
  "GPL-2.0+": "GPL-2.0-or-later",
  "GPL-3.0": "GPL-3.0-only",
  "GPL-3.0+": "GPL-3.0-or-later",
  "LGPL-2.0": "LGPL-2.0-only",
  "LGPL-2.0+": "LGPL-2.0-or-later",
  "LGPL-2.1": "LGPL-2.1-only",
  "LGPL-2.1+": "LGPL-2.1-or-later",
  "LGPL-3.0": "LGPL-3.0-only",
  "LGPL-3.0+": "LGPL-3.0-or-later",
};

/** Words and trove classifiers that name exactly one SPDX licence. */
const WORDS: Readonly<Record<string, string>> = {
  "apache 2.0": "Apache-2.0",
  "apache license 2.0": "Apache-2.0",
  "apache license, version 2.0": "Apache-2.0",
  "apache software license": "Apache-2.0",
  "apache-2": "Apache-2.0",
  "mit license": "MIT",
  "the mit license": "MIT",
  "isc license": "ISC",
  "isc license (iscl)": "ISC",
  "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
  "python software foundation license": "PSF-2.0",
  "zope public license": "ZPL-2.1",
  "the unlicense (unlicense)": "Unlicense",
  "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
  "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
  "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
  "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
};

/** The verdict on one declaration. */
export interface LicenceVerdict {
  /** True when the declaration allows use in an AGPL-3.0-or-later work. */
  ok: boolean;
  /** The declaration as an SPDX expression, or null when none could be made of it. */
  spdx: string | null;
  /** Why it is not ok (empty when ok). */
  reason: string;
}

type Node = { kind: "id"; id: string; exception: string | null } | { kind: "and" | "or"; left: Node; right: Node };

/** Parses an SPDX license expression; throws on a malformed one. */
export function parseExpression(text: string): Node {
  const tokens = text.match(/\(|\)|[A-Za-z0-9.+:-]+/g) ?? [];
  if (tokens.join("") !== text.replace(/\s+/g, "")) throw new Error(`not an SPDX expression: ${text}`);
  let at = 0;
  const peek = () => tokens[at];
  const take = () => {
    const token = tokens[at++];
    if (token === undefined) throw new Error(`unexpected end of ${text}`);
    return token;
  };
  const operator = (token: string | undefined) => token?.toUpperCase();
  // OR binds loosest, then AND, then WITH (SPDX specification, annex D).
  const or = (): Node => {
    let left = and();
    while (operator(peek()) === "OR") {
      take();
      left = { kind: "or", left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = primary();
    while (operator(peek()) === "AND") {
      take();
      left = { kind: "and", left, right: primary() };
    }
    return left;
  };
  const primary = (): Node => {
    const token = take();
    if (token === "(") {
      const inner = or();
      if (take() !== ")") throw new Error(`unbalanced parentheses in ${text}`);
      return inner;
    }
    if (token === ")" || ["AND", "OR", "WITH"].includes(token.toUpperCase())) {
      throw new Error(`unexpected ${token} in ${text}`);
    }
    // Words like BSD, GPL or UNKNOWN name no licence exactly: SPDX ids without a version number
    // are few, and all of them are on the allow-list.
    const id = DEPRECATED[token] ?? token;
    if (!/\d/.test(id) && !id.startsWith("LicenseRef-") && !ALLOWED_LICENCES.has(id)) {
      throw new Error(`not an SPDX licence id: ${token}`);
    }
    let exception: string | null = null;
    if (operator(peek()) === "WITH") {
      take();
      exception = take();
    }
    return { kind: "id", id, exception };
  };
  const node = or();
  if (at !== tokens.length) throw new Error(`unexpected ${tokens[at]} in ${text}`);
  return node;
}

/** Writes a parsed expression back, with current ids. */
function print(node: Node, parent: "and" | "or" | null = null): string {
  if (node.kind === "id") return node.exception ? `${node.id} WITH ${node.exception}` : node.id;
  const text = `${print(node.left, node.kind)} ${node.kind.toUpperCase()} ${print(node.right, node.kind)}`;
  return parent !== null && parent !== node.kind ? `(${text})` : text;
}

/** The licences in `node` that keep it from being acceptable, or [] when it is. */
function refused(node: Node): string[] {
  if (node.kind === "id") {
    if (!ALLOWED_LICENCES.has(node.id)) return [node.id];
    if (node.exception !== null && !ALLOWED_EXCEPTIONS.has(node.exception))
      return [`${node.id} WITH ${node.exception}`];
    return [];
  }
  const left = refused(node.left);
  const right = refused(node.right);
  if (node.kind === "and") return [...left, ...right];
  return left.length === 0 || right.length === 0 ? [] : [...left, ...right];
}

/**
 * Turns what a package declares into an SPDX expression: an expression as is, a known word or
 * trove classifier, npm's old `{ type }` objects and `licenses` arrays (all of them apply).
 * Null when it names nothing we know ("BSD", "UNKNOWN", "SEE LICENSE IN ...").
 */
export function normalise(declared: unknown): string | null {
  if (Array.isArray(declared)) {
    const parts = declared.map(normalise);
    if (parts.length === 0 || parts.some((part) => part === null)) return null;
    return parts.length === 1 ? parts[0]! : parts.map((part) => `(${part})`).join(" AND ");
  }
  if (typeof declared === "object" && declared !== null && "type" in declared) {
    return normalise(declared.type);
  }
  if (typeof declared !== "string") return null;
  const text = declared.trim().replace(/^License :: (OSI Approved :: )?/, "");
  const word = WORDS[text.toLowerCase()];
  if (word) return word;
  try {
    return print(parseExpression(text));
  } catch {
    return null;
  }
}

/** The verdict on a declaration (see `normalise` for what it may be). */
export function checkLicence(declared: unknown): LicenceVerdict {
  const spdx = normalise(declared);
  if (spdx === null) return { ok: false, spdx, reason: `unknown licence ${JSON.stringify(declared)}` };
  const bad = refused(parseExpression(spdx));
  if (bad.length === 0) return { ok: true, spdx, reason: "" };
  return { ok: false, spdx, reason: `not on the allow-list: ${bad.join(", ")}` };
}

/**
 * Names the licence of a LICENSE file by its characteristic sentences; null when it is none of
 * the common permissive or GNU texts (or several licences in one file).
 */
export function classifyText(text: string): string | null {
  // Some quote the licence as a Markdown block quote.
  const t = text.replace(/^[ \t]*>[ \t]?/gm, "").replace(/\s+/g, " ");
  const has = (pattern: RegExp) => pattern.test(t);
  if (has(/Apache License,? Version 2\.0/i) && !has(/Permission is hereby granted, free of charge/))
    return "Apache-2.0";
  if (has(/Mozilla Public License,? (Version )?2\.0/i)) return "MPL-2.0";
  if (has(/GNU AFFERO GENERAL PUBLIC LICENSE Version 3/i)) return "AGPL-3.0-only";
  if (has(/GNU LESSER GENERAL PUBLIC LICENSE Version 3/i)) return "LGPL-3.0-only";
  if (has(/ISC License|Permission to use, copy, modify, and\/or distribute this software for any purpose/i)) {
    return "ISC";
  }
  if (has(/Permission is hereby granted, free of charge, to any person obtaining a copy/)) return "MIT";
  if (has(/Redistribution and use in source and binary forms, with or without modification, are permitted/)) {
    // The third clause forbids using the authors' names for endorsement.
    return has(/(Neither the name|names? of (its|the|any) contributors may (not )?be used)/i)
      ? "BSD-3-Clause"
      : "BSD-2-Clause";
  }
  if (has(/CC0 1\.0 Universal/)) return "CC0-1.0";
  if (has(/This is free and unencumbered software released into the public domain/)) return "Unlicense";
  return null;
}
