/**
 * What one account may store at Synapse, and what the stack keeps about people: upload limits
 * (homeserver.yaml, connecta_rules.py), file modes of the data folder (ops/stack), and Synapse's
 * log without client addresses (homeserver-config/log.yaml). And that a first sync tells the
 * present: the web client syncs afresh at every page load (homeserver.yaml, `caches`).
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { eventually, matrixRequest, registerUser } from "../support/matrix.ts";
import { intakeSeeker, seedIntakeAgency, type IntakeAgency, type Seeker } from "../support/seeker.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
const MiB = 1024 * 1024;
let agency: IntakeAgency;

beforeAll(async () => {
  agency = await seedIntakeAgency(stack, 1);
});

async function upload(seeker: Seeker, data: Uint8Array<ArrayBuffer>) {
  const res = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload`, {
    method: "POST",
    headers: { authorization: `Bearer ${seeker.accessToken}`, "content-type": "application/octet-stream" },
    body: data,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function fileHead(path: string, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(length);
    return head.subarray(0, readSync(fd, head, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Files of the media store that begin with `head`. */
function storedFilesBeginningWith(head: Buffer): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (fileHead(path, head.length).equals(head)) found.push(path);
    }
  };
  walk(join(stack.dataDir, "synapse", "media"));
  return found;
}

describe("uploads", () => {
  it("refuses a file above the web client's limit of 10 MiB", async () => {
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    const res = await upload(seeker, new Uint8Array(10 * MiB + 1));
    expect([res.status, res.body.errcode]).toEqual([413, "M_TOO_LARGE"]);
  });

  it("refuses uploads beyond an account's volume per hour, before storing a byte of them", async () => {
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    // Four files of the largest size fill the hour's 40 MiB.
    for (let i = 0; i < 4; i++) expect((await upload(seeker, new Uint8Array(10 * MiB))).status).toBe(200);
    const marker = randomBytes(32);
    const refused = await upload(seeker, new Uint8Array(Buffer.concat([marker, Buffer.alloc(MiB)])));
    // Nothing of it is kept. (Synapse's own limit, 403 M_USER_LIMIT_EXCEEDED, refuses only after
    // writing the file, and leaves it on disk; our module refuses first.)
    expect(storedFilesBeginningWith(marker)).toEqual([]);
    expect([refused.status, refused.body.errcode]).toEqual([413, "M_TOO_LARGE"]);
    // Another seeker's volume is their own.
    const other = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    expect((await upload(other, new Uint8Array(MiB))).status).toBe(200);
  });
});

describe("the data folder", () => {
  it("keeps secrets, logs and Synapse's signing key from other users of the machine", () => {
    const mode = (path: string) => statSync(join(stack.dataDir, path)).mode & 0o777;
    // As root, PostgreSQL's `postgres` user may pass through the data folder, not list it.
    expect(mode(".") & 0o066).toBe(0);
    for (const dir of ["logs", "secrets", "synapse", "run"]) expect(mode(dir), dir).toBe(0o700);
    for (const log of readdirSync(join(stack.dataDir, "logs"))) expect(mode(join("logs", log)), log).toBe(0o600);
    const secrets = readdirSync(join(stack.dataDir, "secrets"));
    expect(secrets).toContain("synapse.signing.key");
    expect(secrets).not.toContain("synapse.registration");
    for (const secret of secrets) expect(mode(join("secrets", secret)), secret).toBe(0o600);
  });
});

describe("Synapse's log", () => {
  it("holds no client address next to a seeker, and no access log", async () => {
    const seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
    const room = `/_matrix/client/v3/rooms/${enc(seeker.roomId)}`;
    expect((await matrixRequest(stack, "POST", `${room}/join`, seeker, {})).status).toBe(200);
    const sent = await matrixRequest(stack, "PUT", `${room}/send/m.room.message/t1`, seeker, {
      msgtype: "m.text",
      body: "Hallo",
    });
    expect(sent.status).toBe(200);
    expect((await matrixRequest(stack, "GET", "/_matrix/client/v3/sync?timeout=0", seeker)).status).toBe(200);
    // An unknown alias: Synapse logs the refusal, so once this line is there, every line of the
    // requests before it is too.
    const mark = `#log-mark-${randomBytes(6).toString("hex")}:${stack.serverName}`;
    expect((await matrixRequest(stack, "GET", `/_matrix/client/v3/directory/room/${enc(mark)}`, seeker)).status).toBe(
      404,
    );
    const log = await eventually("the marker in Synapse's log", () => {
      const text = readFileSync(join(stack.dataDir, "logs", "synapse.log"), "utf8");
      return text.includes(mark) ? text : null;
    });
    const lines = log.split("\n");
    const aboutSeeker = lines.filter((l) => l.includes(seeker.pseudonym));
    expect(aboutSeeker.length).toBeGreaterThan(0);
    // Without the time stamp (its colons look like IPv6): IPv4, or IPv6 as Synapse writes it.
    const address = /\b\d{1,3}(\.\d{1,3}){3}\b|::1\b|::ffff:|\b[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}\b/i;
    const withAddress = aboutSeeker.filter((l) => address.test(l.replace(/^\S+ \S+ /, "")));
    expect(withAddress).toEqual([]);
    expect(lines.filter((l) => / synapse\.access\./.test(l))).toEqual([]);
  });
});

describe("a first sync", () => {
  it("tells the present to a device that synced before, not the answer it got then", async () => {
    const user = await registerUser(stack, "resync");
    // The web client's first sync of a page load (matrix-js-sdk's query, state_after on).
    const filter = enc(JSON.stringify({ room: { timeline: { limit: 30 }, state: { lazy_load_members: true } } }));
    const firstSync = async () => {
      const res = await matrixRequest(
        stack,
        "GET",
        `/_matrix/client/v3/sync?filter=${filter}&timeout=0&org.matrix.msc4222.use_state_after=true`,
        user,
      );
      expect(res.status).toBe(200);
      const events = (res.body.account_data as { events: { type: string; content: { n?: number } }[] }).events;
      return events.find((e) => e.type === "de.connecta.test")?.content.n;
    };
    const put = (n: number) =>
      matrixRequest(stack, "PUT", `/_matrix/client/v3/user/${enc(user.userId)}/account_data/de.connecta.test`, user, {
        n,
      });
    expect((await put(1)).status).toBe(200);
    expect(await firstSync()).toBe(1);
    // The next page load, a moment later, of the same device.
    expect((await put(2)).status).toBe(200);
    expect(await firstSync()).toBe(2);
  });
});
