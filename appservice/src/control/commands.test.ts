import { describe, expect, it } from "vitest";
import { MAX_WORD, parseCommand } from "./commands.ts";

describe("parseCommand", () => {
  it.each([
    ["help", { kind: "help" }],
    ["  HELP  ", { kind: "help" }],
    ["hilfe", { kind: "help" }],
    ["?", { kind: "help" }],
    ["!help", { kind: "help" }],
    ["queue", { kind: "queue" }],
    ["Queue please", { kind: "queue" }],
    ["take 12", { kind: "take", enquiryId: 12 }],
    ["take #12", { kind: "take", enquiryId: 12 }],
    ["TAKE\t7", { kind: "take", enquiryId: 7 }],
    ["close 3", { kind: "close", enquiryId: 3 }],
    ["handover 12 @anna:localhost", { kind: "handover", enquiryId: 12, counsellorId: "@anna:localhost" }],
    [
      "handover #5 @anna.b:example.org:8448",
      { kind: "handover", enquiryId: 5, counsellorId: "@anna.b:example.org:8448" },
    ],
  ])("reads %j", (body, expected) => {
    expect(parseCommand(body)).toEqual(expected);
  });

  it.each([
    ["take", "take"],
    ["take abc", "take"],
    ["take 0", "take"],
    ["take -1", "take"],
    ["take 1.5", "take"],
    ["take 12 13", "take"],
    ["take 1234567890123456", "take"],
    ["close", "close"],
    ["handover", "handover"],
    ["handover 12", "handover"],
    ["handover @anna:localhost 12", "handover"],
    ["handover 12 anna", "handover"],
    ["handover 12 @Anna:localhost", "handover"],
    ["handover 12 @anna:localhost @bob:localhost", "handover"],
  ])("asks for the arguments of %j", (body, command) => {
    expect(parseCommand(body)).toEqual({ kind: "usage", command });
  });

  it("takes the colleague from a mention when the client wrote a display name", () => {
    expect(parseCommand("handover 12 Anna Berg", ["@anna:localhost"])).toEqual({
      kind: "handover",
      enquiryId: 12,
      counsellorId: "@anna:localhost",
    });
    expect(parseCommand("handover 12 Anna", ["@anna:localhost", "@bob:localhost"])).toEqual({
      kind: "usage",
      command: "handover",
    });
    expect(parseCommand("handover 12", ["@anna:localhost"])).toEqual({ kind: "usage", command: "handover" });
  });

  it("names an unknown first word, shortened", () => {
    expect(parseCommand("tkae 12")).toEqual({ kind: "unknown", word: "tkae" });
    expect(parseCommand("Hallo!")).toEqual({ kind: "unknown", word: "Hallo!" });
    expect(parseCommand("constructor")).toEqual({ kind: "unknown", word: "constructor" });
    const long = parseCommand("x".repeat(100));
    expect(long).toEqual({ kind: "unknown", word: "x".repeat(MAX_WORD) });
  });

  it("ignores empty messages and the quoted part of a reply", () => {
    expect(parseCommand("")).toBeNull();
    expect(parseCommand("   \n ")).toBeNull();
    expect(parseCommand("> <@connecta-notices:localhost> Waiting enquiries: 1\n> #12\n\ntake 12")).toEqual({
      kind: "take",
      enquiryId: 12,
    });
  });
});
