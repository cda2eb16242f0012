/**
 * Intake and first-enquiry benchmarks on a fresh stack (Synapse's registration rate limits are
 * raised for it through CONNECTA_SYNAPSE_EXTRA_CONFIG, for the intake and the baseline alike):
 * - intake end to end as the seeker's client sees it (challenge, proof of work, intake,
 *   registration at Synapse, completion with the room), next to the baseline of a bare Synapse
 *   registration with a token plus the creation of an encrypted room inviting two users;
 * - first-enquiry delivery: from the seeker's send to a counsellor's decrypted event.
 *
 *   node bench/intake.ts      (in the environment ops/connecta sets up)
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import * as sdk from "matrix-js-sdk";
import { ROOT } from "../ops/stack/config.ts";
import { freshStackEnv, launchStack, removeStackData } from "../tests/support/global-setup.ts";
import { joinInvitedRoom } from "../tests/support/crypto-identity.ts";
import { cryptoClient, matrixRequest, stackSecret } from "../tests/support/matrix.ts";
import { intakeSeeker, registerWithToken, solvedChallenge } from "../tests/support/seeker.ts";
import { connectaDb, createAgency, createCounsellor, createTopic } from "../tests/support/workflow.ts";

const RUNS = Number(process.argv[2] ?? 20);
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
};
const row = (name: string, values: number[]) =>
  console.log(
    `| ${name} | ${values.length} | ${quantile(values, 0.5).toFixed(0)} | ${quantile(values, 0.95).toFixed(0)} |`,
  );

const dataDir = mkdtempSync(join(ROOT, ".data", "bench-intake-"));
const extra = join(dataDir, "bench-synapse.yaml");
writeFileSync(
  extra,
  "rc_registration: {per_second: 100, burst_count: 1000}\nrc_registration_token_validity: {per_second: 100, burst_count: 1000}\n",
);
const stack = launchStack(process.execPath, [join(ROOT, "ops", "stack", "cli.ts"), "start"], {
  ...freshStackEnv(dataDir),
  CONNECTA_SYNAPSE_EXTRA_CONFIG: extra,
});
const info = await stack.ready;
const db = await connectaDb(info);
const clients: sdk.MatrixClient[] = [];
try {
  const topic = await createTopic(db);
  const agency = await createAgency(db, [topic], [["00000", "99999"]]);
  const [c1, c2] = [await createCounsellor(info, db, agency), await createCounsellor(info, db, agency)];
  const operatorToken = stackSecret(info, "synapseOperatorToken");
  const bot = { accessToken: stackSecret(info, "asToken") };

  // --- Intake end to end vs. bare Synapse ----------------------------------------------------
  const intake: number[] = [];
  const pow: number[] = [];
  const bare: number[] = [];
  const seekers = [];
  for (let i = 0; i < RUNS; i++) {
    const powStart = performance.now();
    await solvedChallenge(info);
    pow.push(performance.now() - powStart);
    const start = performance.now();
    seekers.push(await intakeSeeker(info, { topic, postcode: "10115" }));
    intake.push(performance.now() - start);

    const bareName = `bare-${i}-${Date.now()}`;
    const minted = await fetch(`${info.synapseUrl}/_synapse/admin/v1/registration_tokens/new`, {
      method: "POST",
      headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
      // Synapse registers only the name inside a token (homeserver-config/connecta_rules.py).
      body: JSON.stringify({ token: `${bareName}~${randomBytes(12).toString("base64url")}`, uses_allowed: 1 }),
    }).then((r) => r.json() as Promise<{ token: string }>);
    const bareStart = performance.now();
    const registered = await registerWithToken(info, bareName, "a-long-bench-password-1", minted.token);
    const user = {
      userId: String(registered.body.user_id),
      localpart: "",
      password: "",
      accessToken: String(registered.body.access_token),
      deviceId: String(registered.body.device_id),
    };
    // Only the workflow's bot creates rooms, as it does for an intake.
    const room = await matrixRequest(info, "POST", "/_matrix/client/v3/createRoom", bot, {
      preset: "private_chat",
      invite: [user.userId, c1.userId, c2.userId],
    });
    if (room.status !== 200) throw new Error("bare room creation failed");
    bare.push(performance.now() - bareStart);
  }

  // --- First-enquiry delivery ------------------------------------------------------------------
  const counsellor = await cryptoClient(info, c1);
  clients.push(counsellor);
  const delivery: number[] = [];
  for (const seeker of seekers.slice(0, Math.min(10, seekers.length))) {
    const client = await cryptoClient(info, seeker);
    clients.push(client);
    await joinInvitedRoom(client, seeker.roomId);
    await joinInvitedRoom(counsellor, seeker.roomId);
    const text = `enquiry-${seeker.enquiryId}`;
    const received = new Promise<number>((resolve, reject) => {
      setTimeout(() => reject(new Error("first enquiry not delivered within 60 s")), 60_000).unref();
      const onDecrypted = (event: sdk.MatrixEvent) => {
        if (event.getRoomId() === seeker.roomId && event.getContent().body === text) {
          counsellor.off(sdk.MatrixEventEvent.Decrypted, onDecrypted);
          resolve(performance.now());
        }
      };
      counsellor.on(sdk.MatrixEventEvent.Decrypted, onDecrypted);
    });
    const sent = performance.now();
    await client.sendTextMessage(seeker.roomId, text);
    delivery.push((await received) - sent);
    client.stopClient();
  }

  console.log(
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${new Date().toISOString()}`,
  );
  console.log("| measurement | samples | p50 ms | p95 ms |");
  console.log("|---|---|---|---|");
  row("intake end to end, seeker's view (incl. proof of work)", intake);
  row("of which: fetching and solving the 18-bit challenge", pow);
  row("baseline: bare Synapse token registration + the bot's encrypted room inviting the user and 2 counsellors", bare);
  row("first enquiry: seeker's send → counsellor's decrypted event", delivery);
} finally {
  clients.forEach((c) => c.stopClient());
  await db.end();
  await stack.stop();
  removeStackData({ dataDir, postgresDir: info.postgresDir });
}
