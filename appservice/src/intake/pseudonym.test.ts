import { describe, expect, it } from "vitest";
import { IMPERSONATING as CLIENT_IMPERSONATING, pseudonymProblem } from "../../../client/src/lib/intake/pseudonym.ts";
import { checkPseudonym, IMPERSONATING } from "./pseudonym.ts";

function reason(input: string): string {
  const result = checkPseudonym(input);
  if (result.ok) throw new Error(`${JSON.stringify(input)} was accepted as ${result.pseudonym}`);
  return result.reason;
}

describe("checkPseudonym", () => {
  it.each([
    ["anna", "anna"],
    ["Sonnenblume", "sonnenblume"],
    ["MOND-licht_7", "mond-licht_7"],
    ["x.y.z", "x.y.z"],
    ["abc", "abc"],
    ["a".repeat(30), "a".repeat(30)],
    ["kater2024", "kater2024"],
    ["7zwerge", "7zwerge"],
    ["hilfesuchend", "hilfesuchend"],
    ["robot", "robot"],
    ["sigmxyz", "sigmxyz"],
    ["paolo", "paolo"],
  ])("accepts %j as %j", (input, expected) => {
    expect(checkPseudonym(input)).toEqual({ ok: true, pseudonym: expected });
  });

  it.each([
    ["with a space", "anna maria"],
    ["with an umlaut", "jürgen"],
    ["with an accent", "josé"],
    ["with Cyrillic look-alikes", "аnna"], // first letter is U+0430
    ["with a Greek look-alike", "ΑΝΝΑ"],
    ["with the Kelvin sign (lower-cases to k)", "\u212Aater"],
    ["with a zero-width space", "an\u200Bna"],
    ["with a zero-width joiner", "an\u200Dna"],
    ["with a right-to-left override", "anna\u202Egpj.exe"],
    ["with fullwidth letters", "ａｎｎａ"],
    ["with an at sign", "anna@example"],
    ["with a colon", "anna:server"],
    ["with a slash", "anna/../x"],
    ["with an HTML fragment", "<script>"],
    ["with an SQL fragment", "x'; DROP TABLE intakes;--"],
    ["with a newline", "anna\n"],
    ["with a NUL", "anna\u0000"],
    ["with an emoji", "anna🙂"],
  ])("refuses a pseudonym %s with the character rule", (_what, input) => {
    expect(reason(input)).toMatch(/only contain the letters a-z/);
  });

  it("refuses pseudonyms that are too short or too long", () => {
    expect(reason("ab")).toMatch(/3 to 30 characters/);
    expect(reason("")).toMatch(/3 to 30 characters/);
    expect(reason("a".repeat(31))).toMatch(/3 to 30 characters/);
  });

  it("refuses pseudonyms starting with a separator or without a letter", () => {
    expect(reason("_anna")).toMatch(/start with a letter or a digit/);
    expect(reason(".anna")).toMatch(/start with a letter or a digit/);
    expect(reason("-anna")).toMatch(/start with a letter or a digit/);
    expect(reason("12345")).toMatch(/at least one letter/);
    expect(reason("1-2.3")).toMatch(/at least one letter/);
  });

  it.each(["anna017612345", "0176-123-456x", "x.0.1.7.6.1.2", "tom19900101", "49151123456a"])(
    "refuses %j, which looks like a phone number or a birth date",
    (input) => {
      expect(reason(input)).toMatch(/more than 5 digits/);
    },
  );

  it.each([
    "anna.schmidt.gmx",
    "anna-gmail",
    "gmx-anna",
    "Anna.Schmidt.GMX",
    "max.mustermann.de",
    "name.example.com",
    "t-online-user",
    "x.yahoo",
    "anna_web.de",
  ])("refuses %j, which looks like an e-mail or web address", (input) => {
    expect(reason(input)).toMatch(/e-mail or web address/);
  });

  it.each([
    "connecta",
    "connecta-bot",
    "Connecta.helper",
    "admin",
    "Administrator",
    "operator1",
    "support",
    "der.support",
    "beratung",
    "Beraterin_Anna",
    "counsellor",
    "moderator",
    "team",
    "team-lead",
    "teamleitung",
    "bot",
    "root",
    "system",
    "no-reply",
    "hilfe",
    "notruf",
    // Containing a stem anywhere, also across separators.
    "xconnectax",
    "myadmin",
    "a-d-m-i-n",
    "kundensupport",
    "dein.team",
    "teamgeist",
    "ihre-beraterin",
    "der_moderator",
    "systemnachricht",
    "connecta-notices2",
    "notice-board",
    "offizielle-hilfe",
    "officialanna",
    "polizei.hilft",
  ])("refuses the reserved %j", (input) => {
    expect(reason(input)).toMatch(/reserved/);
  });

  it.each([
    "c0nnecta",
    "adm1n",
    "adrnin",
    "5upport",
    "t3am",
    "beraterln",
    "po1izei",
    "0ffiziell",
    "c0unse11or",
    "sy5tem",
  ])("refuses the look-alike %j, here and in the web client", (input) => {
    expect(reason(input)).toMatch(/reserved/);
    expect(pseudonymProblem(input)).toBe("pseudonymReserved");
  });

  it.each(["anna-lena", "mondschein", "kiwi_42", "tulpe.88"])("still takes the plain %j", (input) => {
    expect(checkPseudonym(input)).toEqual({ ok: true, pseudonym: input });
    expect(pseudonymProblem(input)).toBeNull();
  });

  it("keeps its list of impersonating stems in step with the web client's", () => {
    expect(CLIENT_IMPERSONATING).toEqual(IMPERSONATING);
  });
});
