import { describe, expect, it } from "vitest";
import listText from "./common-passwords.txt?raw";
import { isCommonPassword, parsePasswordList, passwordProblem } from "./passwords.ts";

const list = parsePasswordList(listText);

describe("the common-password list", () => {
  it("holds a few thousand lower-case passwords and no comments", () => {
    expect(list.size).toBeGreaterThanOrEqual(2000);
    for (const word of list) {
      expect(word).toBe(word.toLowerCase());
      expect(word.startsWith("#")).toBe(false);
    }
  });

  it("knows the classics and the local favourites", () => {
    for (const word of ["123456", "password", "qwertz", "passwort", "hallo123", "ichliebedich", "1234567890"]) {
      expect(list.has(word), word).toBe(true);
    }
  });
});

describe("parsePasswordList", () => {
  it("skips comments and empty lines, trims and lower-cases", () => {
    expect([...parsePasswordList("# comment\n\n  Sommer \r\nHALLO\n")]).toEqual(["sommer", "hallo"]);
  });
});

describe("isCommonPassword", () => {
  it.each([
    "1234567890",
    "Passwort123",
    "PASSWORT2024!",
    "p4ssw0rd2024",
    "P@ssw0rd!!",
    "123456hallo",
    "qwertzuiop",
    "Sonnenschein1",
    "ichliebedich!",
    "aaaaaaaaaaaa",
    "!!!!!!!!!!",
    "ｐａｓｓｗｏｒｔ１２３", // fullwidth forms become ASCII under NFKC
  ])("refuses %j", (password) => {
    expect(isCommonPassword(password, list)).toBe(true);
  });

  it.each(["correct horse battery staple", "Tr0ub4dor&3-Mondlicht", "zweiFlüsse-treffen-sich", "k8#Lw!2qZ9pVx"])(
    "accepts %j",
    (password) => {
      expect(isCommonPassword(password, list)).toBe(false);
    },
  );

  it("refuses a password containing the pseudonym, in any case", () => {
    expect(isCommonPassword("Mondlicht-sehr-geheim", list, ["mondlicht"])).toBe(true);
    expect(isCommonPassword("Sternennacht-sehr-lang", list, ["mondlicht"])).toBe(false);
    expect(isCommonPassword("ab-xyz-uvw-qrs", list, ["ab"])).toBe(false);
  });
});

describe("passwordProblem", () => {
  it.each([
    ["aaaaaaaaaaaa", "repeated"],
    ["Mondlicht-sehr-geheim", "personal"],
    ["passwort123", "listed"],
    ["Sommer2024!", "disguised"],
    ["p4ssw0rt", "disguised"],
    ["correct horse battery staple", null],
  ] as const)("names the reason for %j: %s", (password, reason) => {
    expect(passwordProblem(password, list, ["mondlicht"])).toBe(reason);
  });
});
