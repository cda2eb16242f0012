/**
 * The Python packages of the Synapse virtual environment ops/connecta installs, with what each
 * declares about its licence: the SPDX `License-Expression` (newer packages), the free-text
 * `License` field, trove classifiers, and the text of its licence file.
 */
import { execFileSync } from "node:child_process";

/** One installed Python distribution. */
export interface PythonPackage {
  name: string;
  version: string;
  expression: string | null;
  license: string | null;
  classifiers: string[];
  /** The text of its first LICENSE/COPYING file, null when it ships none. */
  licenceText: string | null;
}

// Runs inside the venv's interpreter: importlib.metadata sees exactly what is installed there.
const LIST = `
import json, importlib.metadata as md
out = []
for d in md.distributions():
    m = d.metadata
    text = None
    for f in d.files or []:
        base = f.name.upper()
        if base.startswith(("LICENSE", "LICENCE", "COPYING")):
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            break
    out.append({
        "name": m["Name"],
        "version": m["Version"],
        "expression": m.get("License-Expression"),
        "license": m.get("License"),
        "classifiers": [c for c in (m.get_all("Classifier") or []) if c.startswith("License ::")],
        "licenceText": text,
    })
print(json.dumps(out))
`;

/** The packages installed for `python` (a venv's bin/python), sorted by name. */
export function pythonPackages(python: string): PythonPackage[] {
  const list = JSON.parse(
    execFileSync(python, ["-c", LIST], { encoding: "utf8", maxBuffer: 64 << 20 }),
  ) as PythonPackage[];
  return list.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
}
