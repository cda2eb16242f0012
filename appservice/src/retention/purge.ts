/**
 * The steps of a purge (sweeper.ts schedules them): each may run twice (after a crash, or when
 * Synapse answered too late), so each first looks at what is already done. What Synapse no
 * longer knows (a room or file already deleted, an account already erased) counts as done.
 *
 * Synapse's admin API does the deleting in its own database and media store: the room with
 * `DELETE /_synapse/admin/v2/rooms/<room>` and `purge` (events, state, memberships), the same
 * for its case-notes room (the counsellors' notes go with the conversation), then its files one by one, then the seeker's files and account (`deactivate` with `erase`). Files sent
 * in encrypted messages are invisible to Synapse's per-room list; the clients report them to us
 * (`enquiry_media`) and the seeker's own go with their account.
 */
import type pg from "pg";
import { setTimeout as sleep } from "node:timers/promises";
import { recordEvent } from "../audit/audit.ts";
import { noticeContent, sendNotice } from "../control/rooms.ts";
import { texts } from "../control/texts.ts";
import { HomeserverError, type Homeserver } from "../matrix/homeserver.ts";
import type { Step, StepRunners } from "../steps/steps.ts";

const enc = encodeURIComponent;

/** How long one run of `purge_room` waits for Synapse before the step is retried. */
const ROOM_PURGE_WAIT_MS = 120_000;

/** Runs `call`; an answer 404 from Synapse means there is nothing (left) to do. */
async function unlessGone<T>(call: Promise<T>): Promise<T | null> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof HomeserverError && err.status === 404) return null;
    throw err;
  }
}

interface Target {
  room_id: string | null;
  notes_room_id: string | null;
  seeker_id: string | null;
  intake_id: string;
  media: string[];
}

/** The enquiry being purged, with the files noted so far; null when its rows are gone already. */
async function target(db: pg.PoolClient, step: Step): Promise<Target | null> {
  const { rows } = await db.query<Target>(
    `SELECT e.room_id, e.notes_room_id, e.seeker_id, e.intake_id, p.media
       FROM enquiries e JOIN purges p ON p.enquiry_id = e.id WHERE e.id = $1`,
    [step.enquiryId],
  );
  return rows[0] ?? null;
}

interface DeleteTask {
  delete_id: string;
  status: "scheduled" | "active" | "complete" | "failed";
}

/** Deletes and purges `roomId`, or waits for a deletion already under way. */
async function purgeRoom(hs: Homeserver, roomId: string): Promise<void> {
  const earlier = await unlessGone(
    hs.request<{ results: DeleteTask[] }>("GET", `/_synapse/admin/v2/rooms/${enc(roomId)}/delete_status`),
  );
  let task = earlier?.results.find((t) => t.status !== "failed");
  if (task?.status === "complete") return;
  const deleteId =
    task?.delete_id ??
    (
      await hs.request<{ delete_id: string }>("DELETE", `/_synapse/admin/v2/rooms/${enc(roomId)}`, {
        purge: true,
        force_purge: true,
        block: false,
      })
    ).delete_id;
  const deadline = Date.now() + ROOM_PURGE_WAIT_MS;
  for (;;) {
    task = await hs.request<DeleteTask>("GET", `/_synapse/admin/v2/rooms/delete_status/${enc(deleteId)}`);
    if (task.status === "complete") return;
    if (task.status === "failed") throw new Error(`Synapse failed to purge room ${roomId}`);
    if (Date.now() > deadline) throw new Error(`Synapse is still purging room ${roomId}`);
    await sleep(250);
  }
}

/** Deletes the local files `mxcs` (of `serverName`) from the media store. */
async function deleteMedia(hs: Homeserver, serverName: string, mxcs: string[]): Promise<void> {
  for (const mxc of mxcs) {
    const match = /^mxc:\/\/([^/]+)\/([^/]+)$/.exec(mxc);
    if (!match || match[1] !== serverName) continue;
    await unlessGone(hs.request("DELETE", `/_synapse/admin/v1/media/${enc(serverName)}/${enc(match[2] ?? "")}`));
  }
}

/** Deletes every file `userId` uploaded, then deactivates and erases the account. */
async function eraseUser(hs: Homeserver, userId: string): Promise<void> {
  // The admin API deletes a page of a user's files per call.
  for (;;) {
    const page = await unlessGone(
      hs.request<{ total: number }>("DELETE", `/_synapse/admin/v1/users/${enc(userId)}/media?limit=100`),
    );
    if (!page || page.total === 0) break;
  }
  await unlessGone(hs.request("POST", `/_synapse/admin/v1/deactivate/${enc(userId)}`, { erase: true }));
}

/** Deletes a registration token at Synapse (gone already: done). */
async function deleteToken(hs: Homeserver, token: string): Promise<void> {
  await unlessGone(hs.request("DELETE", `/_synapse/admin/v1/registration_tokens/${enc(token)}`));
}

/** The runners of the purge steps. */
export function purgeStepRunners(
  hs: Homeserver,
  serverName: string,
): Pick<
  StepRunners,
  "purge_collect_media" | "purge_room" | "purge_media" | "erase_seeker" | "purge_rows" | "erase_user" | "erasure_notice"
> {
  return {
    purge_collect_media: async (step, db) => {
      const t = await target(db, step);
      if (!t) return;
      const listed = t.room_id
        ? await unlessGone(hs.request<{ local: string[] }>("GET", `/_synapse/admin/v1/room/${enc(t.room_id)}/media`))
        : null;
      await db.query(
        `UPDATE purges SET media = ARRAY(
           SELECT DISTINCT m FROM unnest(media || $2::text[] || ARRAY(
             SELECT media_id FROM enquiry_media WHERE enquiry_id = $1)) AS m ORDER BY m)
          WHERE enquiry_id = $1`,
        [step.enquiryId, listed?.local ?? []],
      );
    },
    purge_room: async (step, db) => {
      const t = await target(db, step);
      if (t?.room_id) await purgeRoom(hs, t.room_id);
      if (t?.notes_room_id) await purgeRoom(hs, t.notes_room_id);
    },
    purge_media: async (step, db) => {
      const t = await target(db, step);
      if (t) await deleteMedia(hs, serverName, t.media);
    },
    erase_seeker: async (step, db) => {
      const t = await target(db, step);
      if (!t) return;
      // The intake's registration token holds the pseudonym; it goes whatever else stays.
      const token = await db.query<{ registration_token: string }>(
        "SELECT registration_token FROM intakes WHERE id = $1",
        [t.intake_id],
      );
      if (token.rows[0]) await deleteToken(hs, token.rows[0].registration_token);
      if (!t.seeker_id) return;
      // A seeker with another conversation that stays keeps their account (it goes with that one).
      const { rowCount } = await db.query(
        `SELECT 1 FROM enquiries e WHERE e.seeker_id = $1 AND e.id <> $2
            AND NOT EXISTS (SELECT 1 FROM purges p WHERE p.enquiry_id = e.id)`,
        [t.seeker_id, step.enquiryId],
      );
      if (!rowCount) await eraseUser(hs, t.seeker_id);
    },
    purge_rows: async (step, db) => {
      const t = await target(db, step);
      if (!t) return;
      await db.query("DELETE FROM skipped_events WHERE room_id = ANY($1::text[])", [
        [t.room_id, t.notes_room_id].filter((id) => id !== null),
      ]);
      // Assignments, steps (this one's too), the purge's row and the noted files go with it.
      await db.query("DELETE FROM enquiries WHERE id = $1", [step.enquiryId]);
      await db.query("DELETE FROM intakes WHERE id = $1", [t.intake_id]);
      // Which enquiry went, never whose: the seeker's id is gone from our database now.
      await recordEvent(db, {
        action: "retention.purged",
        actor: "system",
        target: `enquiry:${String(step.enquiryId)}`,
      });
    },
    erase_user: async (step) => {
      await eraseUser(hs, step.payload.user_id);
      if (step.payload.registration_token) await deleteToken(hs, step.payload.registration_token);
    },
    erasure_notice: async (step, db) => {
      const { rows } = await db.query<{ language: string }>("SELECT language FROM counsellors WHERE user_id = $1", [
        step.payload.user_id,
      ]);
      const text = texts(rows[0]?.language ?? "de").erased(Number(step.enquiryId));
      const txnId = `erasure:${String(step.enquiryId)}:${step.payload.user_id}`;
      await sendNotice(hs, step.payload.user_id, txnId, noticeContent(text));
    },
  };
}
