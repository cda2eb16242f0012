/**
 * Retention against the real Synapse (appservice/src/retention/, docs/privacy.md): a purged
 * conversation is gone from both databases and the media store, its seeker is erased, and a
 * purge killed in the middle finishes on the next run. The clock is moved by giving the test's
 * agency a period of 0 days and closing the conversation a day in the past.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { appserviceEnv } from "../../ops/stack/stack.ts";
import { dumpDatabase } from "../support/canary.ts";
import { eventually, matrixRequest, stackSecret, type TestUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency } from "../support/seeker.ts";
import { callApi, connectaDb, openIdToken, workflowScene } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
let db: pg.Client;
let operator: string;

beforeAll(async () => {
  db = await connectaDb(stack);
  operator = stackSecret(stack, "operatorToken");
});
afterAll(() => db?.end());

const admin = (method: string, path: string, body?: unknown) =>
  callApi(stack.appserviceUrl, method, `/api/v1/admin${path}`, operator, body);

/** Uploads a small file as `user` and returns its mxc URI. */
async function upload(user: TestUser, text: string): Promise<string> {
  const res = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload?filename=note.txt`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.accessToken}`, "content-type": "text/plain" },
    body: text,
  });
  expect(res.status).toBe(200);
  return String(((await res.json()) as { content_uri: string }).content_uri);
}

/**
 * A closed conversation with files from both sides, reported as the web client reports them,
 * of an agency whose archived conversations are purged at once; closed a day ago and archived.
 */
async function closedConversation() {
  const scene = await workflowScene(stack, db, { counsellors: 1 });
  const counsellor = scene.counsellors[0] as TestUser;
  const asCounsellor = await openIdToken(stack, counsellor);
  const asSeeker = await openIdToken(stack, scene.seeker);
  const enquiry = `/api/v1/enquiries/${scene.enquiryId}`;
  const claimed = await callApi(stack.appserviceUrl, "POST", `${enquiry}/claim`, asCounsellor, {});
  expect(claimed.status).toBe(200);
  // The counsellors' case notes, which go with the conversation.
  const notesRoomId = String(claimed.body.notes_room_id);
  expect(notesRoomId).toMatch(/^!/);
  const media = [await upload(scene.seeker, "seeker's file"), await upload(counsellor, "counsellor's file")];
  for (const [token, mediaId] of [
    [asSeeker, media[0]],
    [asCounsellor, media[1]],
  ] as const) {
    const reported = await callApi(stack.appserviceUrl, "POST", `${enquiry}/media`, token, { media_id: mediaId });
    expect(reported.status).toBe(200);
  }
  // A file the seeker never reported goes with their account.
  media.push(await upload(scene.seeker, "unreported"));
  expect((await callApi(stack.appserviceUrl, "POST", `${enquiry}/close`, asCounsellor, {})).status).toBe(200);
  await db.query("UPDATE enquiries SET state = 'archived', closed_at = now() - interval '1 day' WHERE id = $1", [
    scene.enquiryId,
  ]);
  const policy = { archived_days: 0, unfinished_hours: 48, inactive_days: 180 };
  expect((await admin("PUT", `/retention/agencies/${scene.agencyId}`, policy)).status).toBe(200);
  return { ...scene, counsellor, media, notesRoomId };
}

/** The tables of a plain SQL dump whose rows contain `needle`. */
function tablesContaining(dump: string, needle: string): string[] {
  const tables: string[] = [];
  for (const section of dump.split(/^COPY /m).slice(1)) {
    const rows = section.slice(0, section.indexOf("\n\\.\n"));
    if (rows.includes(needle)) tables.push(section.slice(0, section.indexOf(" ")));
  }
  return tables;
}

/** Files of the media store whose path is that of media `mxc`. */
function mediaFiles(mxc: string): string[] {
  const id = mxc.split("/").at(-1) ?? "";
  const store = join(stack.dataDir, "synapse", "media");
  return readdirSync(store, { recursive: true, encoding: "utf8" }).filter((p) => p.replaceAll("/", "").includes(id));
}

const gone = (enquiryId: number) =>
  eventually(
    "the purge finished",
    async () => (await db.query("SELECT 1 FROM enquiries WHERE id = $1", [enquiryId])).rowCount === 0,
    90_000,
  );

/**
 * Where a seeker's id may stay after their erasure, ids and counters only (docs/privacy.md,
 * "After a purge"): the deactivated account's row and the erasure mark (so that the id is never
 * given again), its statistics row, the OpenID tokens it asked for (expired within the hour;
 * Synapse never deletes them), its addresses until `user_ips_max_age`, and its device list
 * changes in a stream.
 */
const SEEKER_ID_MAY_STAY = [
  "public.users",
  "public.erased_users",
  "public.user_stats_current",
  "public.open_id_tokens",
  "public.user_ips",
  "public.device_lists_stream",
];

/**
 * Synapse's own bookkeeping that outlives a purge (ids only, no content; docs/privacy.md): the
 * stream of state changes, which Synapse never prunes (its purge leaves it, synapse#5888), the
 * cache invalidations and the finished delete task, both pruned by Synapse after 7 days.
 * Events, state, memberships, receipts and the room itself are not among them.
 */
const SYNAPSE_STREAMS = [
  "public.current_state_delta_stream",
  "public.cache_invalidation_stream_by_instance",
  "public.scheduled_tasks",
];
const outsideStreams = (tables: string[]) => tables.filter((t) => !SYNAPSE_STREAMS.includes(t));

describe("a purged conversation", () => {
  it("is gone from both databases and the media store, and its seeker is erased", async () => {
    const c = await closedConversation();
    for (const mxc of c.media) expect(mediaFiles(mxc), mxc).not.toEqual([]);
    const dry = await admin("POST", "/retention/sweep", { dry_run: true });
    const listed = (dry.body.enquiries as { enquiry_id: number }[]).filter((e) => e.enquiry_id === c.enquiryId);
    expect(listed).toEqual([
      { enquiry_id: c.enquiryId, room_id: c.roomId, seeker_id: c.seeker.userId, reason: "archived" },
    ]);
    const real = await admin("POST", "/retention/sweep", { dry_run: false });
    expect(real.body.enquiries).toEqual(dry.body.enquiries);
    await gone(c.enquiryId);

    const [synapse, ours] = await Promise.all([dumpDatabase(stack, "synapse"), dumpDatabase(stack, "connecta")]);
    expect(outsideStreams(tablesContaining(synapse, c.roomId)), "room in Synapse").toEqual([]);
    expect(tablesContaining(ours, c.roomId), "room in ours").toEqual([]);
    expect(outsideStreams(tablesContaining(synapse, c.notesRoomId)), "notes room in Synapse").toEqual([]);
    expect(tablesContaining(ours, c.notesRoomId), "notes room in ours").toEqual([]);
    expect(tablesContaining(ours, c.seeker.userId), "seeker in ours").toEqual([]);
    const seekerTables = tablesContaining(synapse, c.seeker.userId);
    expect(
      outsideStreams(seekerTables).filter((t) => !SEEKER_ID_MAY_STAY.includes(t)),
      "seeker in Synapse",
    ).toEqual([]);
    for (const mxc of c.media) {
      const id = mxc.split("/").at(-1) ?? "";
      expect(tablesContaining(synapse, id), `${mxc} in Synapse`).toEqual([]);
      expect(tablesContaining(ours, id), `${mxc} in ours`).toEqual([]);
      expect(mediaFiles(mxc), `${mxc} in the media store`).toEqual([]);
    }
    const account = await matrixRequest(stack, "GET", `/_synapse/admin/v2/users/${enc(c.seeker.userId)}`, {
      accessToken: stackSecret(stack, "asToken"),
    });
    expect(account.body).toMatchObject({ deactivated: true, erased: true });
    // The counsellor keeps their account and can still log in; the conversation is simply gone.
    const rooms = await matrixRequest(stack, "GET", "/_matrix/client/v3/joined_rooms", c.counsellor);
    expect(rooms.status).toBe(200);
    expect(rooms.body.joined_rooms).not.toContain(c.roomId);
  });

  it("finishes after the sweeper was killed in the middle of it, and each room is purged once", async () => {
    const c = await closedConversation();
    const result = await admin("POST", "/retention/sweep", { dry_run: false });
    expect((result.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id)).toContain(c.enquiryId);
    // A second sweep right after finds the purge under way and schedules nothing again.
    const again = await admin("POST", "/retention/sweep", { dry_run: false });
    expect((again.body.enquiries as { enquiry_id: number }[]).map((e) => e.enquiry_id)).not.toContain(c.enquiryId);
    // Keep the stack's own worker away, and let a process of our own run the steps until it dies
    // right after Synapse purged the room, before that step is recorded as done.
    await db.query("UPDATE matrix_steps SET run_after = now() + interval '1 hour' WHERE enquiry_id = $1", [
      c.enquiryId,
    ]);
    const child = promisify(execFile)(
      process.execPath,
      [join("tests", "support", "run-steps.ts"), String(c.enquiryId)],
      {
        env: { ...appserviceEnv(stack, 1), CONNECTA_FAULT_KILL_AT: "step:purge_room" },
      },
    );
    await expect(child).rejects.toMatchObject({ signal: "SIGKILL" });
    const left = await db.query<{ kind: string; attempts: number }>(
      "SELECT kind, attempts FROM matrix_steps WHERE enquiry_id = $1 AND done_at IS NULL ORDER BY id",
      [c.enquiryId],
    );
    expect(left.rows).toEqual([
      { kind: "purge_room", attempts: 1 },
      { kind: "purge_media", attempts: 0 },
      { kind: "erase_seeker", attempts: 0 },
      { kind: "purge_rows", attempts: 0 },
    ]);
    // The next run (the stack's worker) finds the room purged already and finishes the rest.
    await db.query("UPDATE matrix_steps SET run_after = now() WHERE enquiry_id = $1", [c.enquiryId]);
    await gone(c.enquiryId);
    const synapse = await dumpDatabase(stack, "synapse");
    expect(outsideStreams(tablesContaining(synapse, c.roomId))).toEqual([]);
    for (const mxc of c.media) expect(mediaFiles(mxc), mxc).toEqual([]);
  });

  it("goes at the seeker's own request, telling the counsellor, and leaves nothing but the audit entry", async () => {
    const scene = await workflowScene(stack, db, { counsellors: 1 });
    const counsellor = scene.counsellors[0] as TestUser;
    const enquiry = `/api/v1/enquiries/${scene.enquiryId}`;
    const asCounsellor = await openIdToken(stack, counsellor);
    expect((await callApi(stack.appserviceUrl, "POST", `${enquiry}/claim`, asCounsellor, {})).status).toBe(200);
    const asSeeker = await openIdToken(stack, scene.seeker);
    const file = await upload(scene.seeker, "a file");
    expect((await callApi(stack.appserviceUrl, "POST", `${enquiry}/media`, asSeeker, { media_id: file })).status).toBe(
      200,
    );
    // Counsellors cannot erase themselves this way; their accounts are the operator's.
    const refused = await callApi(stack.appserviceUrl, "POST", "/api/v1/me/erasure", asCounsellor, {});
    expect(refused).toMatchObject({ status: 403, body: { errcode: "M_FORBIDDEN" } });

    const erased = await callApi(stack.appserviceUrl, "POST", "/api/v1/me/erasure", asSeeker, {});
    expect(erased).toEqual({ status: 200, body: { enquiries: 1 } });
    await gone(scene.enquiryId);

    const [synapse, ours] = await Promise.all([dumpDatabase(stack, "synapse"), dumpDatabase(stack, "connecta")]);
    expect(tablesContaining(ours, scene.seeker.userId)).toEqual(["public.audit_log"]);
    expect(tablesContaining(ours, scene.roomId)).toEqual([]);
    expect(outsideStreams(tablesContaining(synapse, scene.roomId))).toEqual([]);
    expect(mediaFiles(file)).toEqual([]);
    // The counsellor was told in their control room, with the enquiry's number only.
    expect(synapse).toContain(`von Anfrage #${scene.enquiryId} hat ihr Konto`);
    const { rows } = await db.query<{ action: string }>(
      "SELECT action FROM audit_log WHERE target IN ($1, $2) ORDER BY id",
      [scene.seeker.userId, `enquiry:${scene.enquiryId}`],
    );
    expect(rows.map((r) => r.action)).toEqual(["privacy.erasure_requested", "retention.purged"]);
  });

  it("takes the registration token of the seeker's intake too, which holds the pseudonym", async () => {
    const agency = await seedIntakeAgency(stack, 1);
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    expect(tablesContaining(await dumpDatabase(stack, "synapse"), seeker.registrationToken)).toContain(
      "public.registration_tokens",
    );
    const erased = await callApi(
      stack.appserviceUrl,
      "POST",
      "/api/v1/me/erasure",
      await openIdToken(stack, seeker),
      {},
    );
    expect(erased).toEqual({ status: 200, body: { enquiries: 1 } });
    await gone(seeker.enquiryId);
    const synapse = await dumpDatabase(stack, "synapse");
    // Only the registration's user-interactive auth session, which Synapse deletes after 48 hours.
    expect(tablesContaining(synapse, `${seeker.pseudonym}~`)).toEqual(["public.ui_auth_sessions"]);
    expect(tablesContaining(await dumpDatabase(stack, "connecta"), seeker.pseudonym)).toEqual(["public.audit_log"]);
  });
});
