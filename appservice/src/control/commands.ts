/**
 * The commands a counsellor writes in their control room, and how a message becomes one. Pure:
 * no database, no Synapse.
 *
 * - `help`: what the commands are (also `hilfe` and `?`)
 * - `queue`: the waiting enquiries of the counsellor's agencies
 * - `take <id>`: claim a waiting enquiry
 * - `handover <id> <user>`: pass an active enquiry to a colleague (`@user:server`, or a mention)
 * - `close <id>`: close an active enquiry
 *
 * Words are case-insensitive; a leading `!` is allowed, an id may be written `#12`.
 */

/** A command that needs the number of an enquiry, and maybe more. */
export type CommandWithArgs = "take" | "handover" | "close";

/** A parsed message: a command to run, or why it is none. */
export type Command =
  | { kind: "help" }
  | { kind: "queue" }
  | { kind: "take"; enquiryId: number }
  | { kind: "handover"; enquiryId: number; counsellorId: string }
  | { kind: "close"; enquiryId: number }
  /** A known command with missing or malformed arguments. */
  | { kind: "usage"; command: CommandWithArgs }
  /** A first word that is no command (shortened to {@link MAX_WORD} characters). */
  | { kind: "unknown"; word: string };

/** How much of an unknown word is kept (and repeated in the answer). */
export const MAX_WORD = 32;

const ALIASES: Record<string, "help" | "queue" | CommandWithArgs> = {
  help: "help",
  hilfe: "help",
  "?": "help",
  queue: "queue",
  take: "take",
  handover: "handover",
  close: "close",
};

const ENQUIRY_ID = /^#?([1-9][0-9]{0,14})$/;
const USER_ID = /^@[a-z0-9._=/+-]+:[A-Za-z0-9.:-]+$/;

/** Drops the quoted lines older clients put before the text of a reply. */
function withoutReplyFallback(body: string): string {
  const lines = body.split("\n");
  if (!lines[0]?.startsWith("> ")) return body;
  const firstOwn = lines.findIndex((line) => !line.startsWith(">"));
  return firstOwn === -1 ? "" : lines.slice(firstOwn).join("\n");
}

function enquiryId(word: string | undefined): number | null {
  const match = word === undefined ? null : ENQUIRY_ID.exec(word);
  return match ? Number(match[1]) : null;
}

/**
 * Parses a message's text. `mentions` are the user ids the message mentions (`m.mentions`), so
 * that `handover 12 Anna` works when a client turned "Anna" into a mention (pill). Returns null
 * for a message without any text.
 */
export function parseCommand(body: string, mentions: readonly string[] = []): Command | null {
  const words = withoutReplyFallback(body).trim().split(/\s+/).filter(Boolean);
  const first = words[0];
  if (first === undefined) return null;
  const word = first.replace(/^!/, "").toLowerCase();
  const name = Object.hasOwn(ALIASES, word) ? ALIASES[word] : undefined;
  const args = words.slice(1);
  switch (name) {
    case undefined:
      return { kind: "unknown", word: [...first].slice(0, MAX_WORD).join("") };
    case "help":
    case "queue":
      return { kind: name };
    case "take":
    case "close": {
      const id = args.length === 1 ? enquiryId(args[0]) : null;
      return id === null ? { kind: "usage", command: name } : { kind: name, enquiryId: id };
    }
    case "handover": {
      const id = enquiryId(args[0]);
      const rest = args.slice(1);
      const named = rest.length === 1 && USER_ID.test(rest[0] ?? "") ? rest[0] : undefined;
      // A client that made the name a pill wrote its display name, which may have spaces.
      const mentioned = mentions.length === 1 && rest.length > 0 ? mentions[0] : undefined;
      const counsellorId = named ?? mentioned;
      if (id === null || counsellorId === undefined || !USER_ID.test(counsellorId)) {
        return { kind: "usage", command: "handover" };
      }
      return { kind: "handover", enquiryId: id, counsellorId };
    }
  }
}
