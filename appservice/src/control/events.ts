/**
 * Commands arrive as room events in the Synapse transactions pushed to us. A message of a
 * counsellor in their own control room is parsed and recorded here, inside the database
 * transaction that records its Synapse transaction; the {@link ControlWorker} answers it after
 * the commit. The event id keeps a command Synapse sends again from being recorded twice.
 */
import type pg from "pg";
import { cleanText } from "../http/text.ts";
import type { MatrixEvent } from "../transactions/transactions.ts";
import { parseCommand } from "./commands.ts";

/** Longer messages are no commands; only their start is looked at. */
const MAX_BODY = 1_000;

/** Users of the application service's namespace (the notices user, the bot) are never counsellors. */
const OUR_USERS = /^@connecta-/;

interface MessageContent {
  msgtype?: unknown;
  body?: unknown;
  "m.mentions"?: { user_ids?: unknown };
  "m.relates_to"?: { rel_type?: unknown };
}

/** Records a command written in a control room; ignores every other event. */
export async function handleControlEvent(event: MatrixEvent, db: pg.PoolClient): Promise<void> {
  if (event.type !== "m.room.message" || !event.room_id || !event.sender || !event.event_id) return;
  const content = (event.content ?? {}) as MessageContent;
  if (content.msgtype !== "m.text" || typeof content.body !== "string") return;
  // An edit of an earlier message is no new command.
  if (content["m.relates_to"]?.rel_type === "m.replace") return;
  const room = await db.query("SELECT 1 FROM control_rooms WHERE counsellor_id = $1 AND room_id = $2", [
    event.sender,
    event.room_id,
  ]);
  if (!room.rowCount) return;
  const ids = content["m.mentions"]?.user_ids;
  const mentions = Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
  // Control characters and lone surrogates become U+FFFD: PostgreSQL would refuse them in the
  // recorded command (an unknown word is kept to be repeated in the answer).
  const command = parseCommand(
    cleanText(content.body.slice(0, MAX_BODY), "text"),
    mentions.filter((id) => !OUR_USERS.test(id) && id !== event.sender),
  );
  if (!command) return;
  await db.query(
    `INSERT INTO control_commands (event_id, counsellor_id, room_id, command) VALUES ($1, $2, $3, $4)
     ON CONFLICT (event_id) DO NOTHING`,
    [event.event_id, event.sender, event.room_id, command],
  );
}
