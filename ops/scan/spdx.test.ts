import { describe, expect, it } from "vitest";
import { checkLicence, classifyText, normalise, parseExpression } from "./spdx.ts";

describe("the licence check", () => {
  it.each([
    ["MIT"],
    ["(Apache-2.0 AND BSD-3-Clause)"],
    ["Apache-2.0 OR BSD-3-Clause"],
    ["AGPL-3.0-or-later OR LicenseRef-Element-Commercial"],
    ["BSD-3-Clause AND ISC"],
    ["GPL-2.0-or-later WITH Classpath-exception-2.0"],
    ["LGPL-2.1+"],
    ["(MIT OR GPL-2.0-only) AND ISC"],
  ])("accepts %s", (declared) => {
    expect(checkLicence(declared)).toMatchObject({ ok: true, reason: "" });
  });

  it.each([
    ["GPL-2.0-only", "GPL-2.0-only"],
    ["SSPL-1.0", "SSPL-1.0"],
    ["MIT AND CC-BY-NC-4.0", "CC-BY-NC-4.0"],
    ["GPL-2.0-only OR EPL-1.0", "GPL-2.0-only, EPL-1.0"],
    ["LicenseRef-Element-Commercial", "LicenseRef-Element-Commercial"],
    ["MIT WITH Some-Other-exception", "MIT WITH Some-Other-exception"],
  ])("refuses %s, naming %s", (declared, named) => {
    expect(checkLicence(declared)).toMatchObject({ ok: false, reason: `not on the allow-list: ${named}` });
  });

  it.each([
    ["BSD"],
    ["UNKNOWN"],
    ["SEE LICENSE IN LICENSE.md"],
    [""],
    [undefined],
    ["MIT OR"],
    ["(MIT"],
    ["MIT) OR (ISC"],
  ])("calls %j unknown", (declared) => {
    expect(checkLicence(declared)).toMatchObject({ ok: false, spdx: null });
  });

  it("lets AND bind tighter than OR", () => {
    // GPL-2.0-only OR (MIT AND ISC): the right side alone is acceptable.
    expect(checkLicence("GPL-2.0-only OR MIT AND ISC").ok).toBe(true);
    // (GPL-2.0-only OR MIT) AND SSPL-1.0 would not be.
    expect(checkLicence("(GPL-2.0-only OR MIT) AND SSPL-1.0").ok).toBe(false);
    expect(parseExpression("MIT OR ISC AND 0BSD")).toEqual({
      kind: "or",
      left: { kind: "id", id: "MIT", exception: null },
      right: {
        kind: "and",
        left: { kind: "id", id: "ISC", exception: null },
        right: { kind: "id", id: "0BSD", exception: null },
      },
    });
  });

  it("turns words, classifiers, npm's old objects and arrays into SPDX", () => {
    expect(normalise("Apache License, Version 2.0")).toBe("Apache-2.0");
    expect(normalise("License :: OSI Approved :: MIT License")).toBe("MIT");
    expect(normalise({ type: "MIT", url: "https://example.org" })).toBe("MIT");
    expect(normalise([{ type: "MIT" }, { type: "Apache-2.0" }])).toBe("(MIT) AND (Apache-2.0)");
    expect(normalise("GPL-3.0")).toBe("GPL-3.0-only");
    expect(normalise("(MIT OR Apache-2.0) AND ISC")).toBe("(MIT OR Apache-2.0) AND ISC");
    expect(normalise([{ type: "BSD" }])).toBeNull();
  });

  it("names a LICENSE file by its text", () => {
    const bsd = "Redistribution and use in source and binary forms, with or without\nmodification, are permitted";
    expect(classifyText(`${bsd} provided ...`)).toBe("BSD-2-Clause");
    expect(classifyText(`${bsd} ... Neither the name of Google Inc. nor the names of its`)).toBe("BSD-3-Clause");
    expect(classifyText("Permission is hereby granted, free of charge, to any person obtaining a copy")).toBe("MIT");
    expect(classifyText("                                 Apache License\n  Version 2.0, January 2004")).toBe(
      "Apache-2.0",
    );
    expect(classifyText('Apache License, Version 2.0 (the "License")')).toBe("Apache-2.0");
    expect(classifyText("Mozilla Public License Version 2.0\n==================")).toBe("MPL-2.0");
    expect(classifyText("All rights reserved. You may not use this file.")).toBeNull();
  });
});
