/**
 * Synapse lets nobody outside the counselling workflow in, and people inside it do only what the
 * workflow needs (homeserver-config/connecta_rules.py and the profile settings of
 * homeserver.yaml): proven against the real Synapse with seekers who went through the real intake.
 */
import { randomBytes } from "node:crypto";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { matrixRequest, registerUser, stackSecret, type TestUser } from "../support/matrix.ts";
import {
  callIntakeApi,
  freshPseudonym,
  intakeBody,
  intakeSeeker,
  registerWithToken,
  seedIntakeAgency,
  solvedChallenge,
  type IntakeAgency,
  type Seeker,
} from "../support/seeker.ts";
import { callApi, openIdToken } from "../support/workflow.ts";

const stack = inject("stack");
const enc = encodeURIComponent;
const operator = () => ({ accessToken: stackSecret(stack, "synapseOperatorToken") });
let agency: IntakeAgency;
let seeker: Seeker;
let counsellor: TestUser;

beforeAll(async () => {
  agency = await seedIntakeAgency(stack, 1);
  counsellor = agency.counsellors[0] as TestUser;
  seeker = await intakeSeeker(stack, { topic: agency.topic, postcode: agency.postcode });
  const join = await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(seeker.roomId)}`, seeker, {});
  expect(join.status).toBe(200);
});

/** Whether Synapse knows `localpart` (the operator asks its admin API). */
async function exists(localpart: string): Promise<boolean> {
  const path = `/_synapse/admin/v2/users/${enc(`@${localpart}:${stack.serverName}`)}`;
  const res = await matrixRequest(stack, "GET", path, operator());
  expect([200, 404]).toContain(res.status);
  return res.status === 200;
}

describe("registration is bound to the intake", () => {
  it("registers exactly the intake's pseudonym, whatever username the client asks for", async () => {
    const pseudonym = freshPseudonym();
    const challenge = await solvedChallenge(stack);
    const body = intakeBody(challenge, { topic: agency.topic, postcode: agency.postcode, pseudonym });
    const intake = await callIntakeApi(stack, "POST", "/api/v1/intake", body);
    expect(intake.status, JSON.stringify(intake.body)).toBe(200);

    const res = await registerWithToken(stack, "admin", "a-long-password-1234", String(intake.body.registration_token));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.user_id).toBe(`@${pseudonym}:${stack.serverName}`);
    expect(await exists("admin")).toBe(false);
    // The workflow goes on as usual: the intake completes with the account it bound.
    const user = { userId: String(res.body.user_id), accessToken: String(res.body.access_token) };
    const done = await callIntakeApi(
      stack,
      "POST",
      `/api/v1/intake/${String(intake.body.intake_id)}/complete`,
      {},
      await openIdToken(stack, user),
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
  });

  it("registers nobody with a valid token that carries no pseudonym, and does not spend it", async () => {
    for (const token of [`plain${randomBytes(8).toString("hex")}`, `Support~${randomBytes(8).toString("hex")}`]) {
      const minted = await matrixRequest(stack, "POST", "/_synapse/admin/v1/registration_tokens/new", operator(), {
        token,
        uses_allowed: 1,
      });
      expect(minted.status, JSON.stringify(minted.body)).toBe(200);
      const username = `support-${randomBytes(4).toString("hex")}`;
      const res = await registerWithToken(stack, username, "a-long-password-1234", token);
      expect([res.status, res.body.errcode], token).toEqual([400, "M_INVALID_USERNAME"]);
      expect(res.body.access_token).toBeUndefined();
      expect(await exists(username)).toBe(false);
      const left = await matrixRequest(stack, "GET", `/_synapse/admin/v1/registration_tokens/${token}`, operator());
      expect(left.body.completed).toBe(0);
    }
  });

  it("tells nobody whether a name is taken", async () => {
    for (const username of [seeker.pseudonym, "operator", freshPseudonym("free")]) {
      const res = await matrixRequest(stack, "GET", `/_matrix/client/v3/register/available?username=${username}`, null);
      expect([res.status, res.body], username).toEqual([200, { available: true }]);
    }
  });
});

describe("people do only what the workflow needs", () => {
  it("a seeker cannot create a room, a direct chat or an alias", async () => {
    const attempts: [string, string, unknown][] = [
      ["POST", "/_matrix/client/v3/createRoom", { name: "Connecta – Steuerung" }],
      [
        "POST",
        "/_matrix/client/v3/createRoom",
        { is_direct: true, preset: "trusted_private_chat", invite: [counsellor.userId] },
      ],
      [
        "PUT",
        `/_matrix/client/v3/directory/room/${enc(`#hilfe-${randomBytes(4).toString("hex")}:${stack.serverName}`)}`,
        { room_id: seeker.roomId },
      ],
    ];
    for (const [method, path, body] of attempts) {
      const res = await matrixRequest(stack, method, path, seeker, body);
      expect([res.status, res.body.errcode], `${method} ${path}`).toEqual([403, "M_FORBIDDEN"]);
    }
  });

  it("a counsellor cannot create rooms either", async () => {
    const res = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", counsellor, {
      is_direct: true,
      invite: [seeker.userId],
    });
    expect([res.status, res.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
  });

  it("a seeker invites nobody: not into their enquiry room, nor into a room where they hold all power", async () => {
    const own = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(seeker.roomId)}/invite`, seeker, {
      user_id: counsellor.userId,
    });
    expect(own.status).toBe(403);

    // A room that is no enquiry room (an operator's), in which the seeker may do anything.
    const admin = await registerUser(stack, "workflow-only-admin", true);
    const room = await matrixRequest(stack, "POST", "/_matrix/client/v3/createRoom", admin, {
      invite: [seeker.userId],
      power_level_content_override: { users: { [seeker.userId]: 100 } },
    });
    expect(room.status, JSON.stringify(room.body)).toBe(200);
    const roomId = String(room.body.room_id);
    expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${enc(roomId)}`, seeker, {})).status).toBe(200);
    const invite = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, seeker, {
      user_id: counsellor.userId,
    });
    expect([invite.status, invite.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    // Nor by e-mail address (there is no identity server either).
    const byMail = await matrixRequest(stack, "POST", `/_matrix/client/v3/rooms/${enc(roomId)}/invite`, seeker, {
      id_server: stack.serverName,
      id_access_token: "x",
      medium: "email",
      address: "someone@example.org",
    });
    expect(byMail.status).toBe(403);
  });

  it("nobody calls themselves Connecta: no own display name, no name per room, no picture", async () => {
    const profile = `/_matrix/client/v3/profile/${enc(seeker.userId)}`;
    const named = await matrixRequest(stack, "PUT", `${profile}/displayname`, seeker, { displayname: "Connecta" });
    expect([named.status, named.body.errcode]).toEqual([403, "M_FORBIDDEN"]);

    // A membership event that brings its own name carries the global one instead.
    const member = `/_matrix/client/v3/rooms/${enc(seeker.roomId)}/state/m.room.member/${enc(seeker.userId)}`;
    const renamed = await matrixRequest(stack, "PUT", member, seeker, { membership: "join", displayname: "Connecta" });
    expect(renamed.status).toBe(200);
    const state = await matrixRequest(stack, "GET", member, seeker);
    expect(state.body.displayname).toBe(seeker.pseudonym);

    // A picture (a real PNG of one pixel) is refused as well.
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
      "base64",
    );
    const upload = await fetch(`${stack.synapseUrl}/_matrix/media/v3/upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${seeker.accessToken}`, "content-type": "image/png" },
      body: png,
    });
    expect(upload.status).toBe(200);
    const { content_uri: avatar } = (await upload.json()) as { content_uri: string };
    const pictured = await matrixRequest(stack, "PUT", `${profile}/avatar_url`, seeker, { avatar_url: avatar });
    expect([pictured.status, pictured.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    const shown = await matrixRequest(stack, "GET", profile, seeker);
    expect(shown.body).toEqual({ displayname: seeker.pseudonym });

    // The service keeps its own name: in a counsellor's control room its notices user is "Connecta".
    const control = await callApi(
      stack.appserviceUrl,
      "POST",
      "/api/v1/control-room",
      await openIdToken(stack, counsellor),
      {},
    );
    expect(control.status, JSON.stringify(control.body)).toBe(200);
    const controlRoom = enc(String(control.body.room_id));
    expect((await matrixRequest(stack, "POST", `/_matrix/client/v3/join/${controlRoom}`, counsellor, {})).status).toBe(
      200,
    );
    const notices = enc(`@connecta-notices:${stack.serverName}`);
    const service = await matrixRequest(
      stack,
      "GET",
      `/_matrix/client/v3/rooms/${controlRoom}/state/m.room.member/${notices}`,
      counsellor,
    );
    expect(service.body.displayname).toBe("Connecta");
  });
});
