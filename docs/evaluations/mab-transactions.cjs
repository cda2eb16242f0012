// Evidence for docs/architecture.md ("matrix-appservice-bridge: decided part by part"): what
// matrix-appservice's AppService does with a transaction, when it answers Synapse, and what a
// restart or a second replica does with a transaction Synapse sends again.
// Run with the package installed outside the repository:
//   npm install --prefix /tmp/mab --ignore-scripts matrix-appservice-bridge@11.2.0
//   NODE_PATH=/tmp/mab/node_modules node docs/evaluations/mab-transactions.cjs
const { AppService } = require("matrix-appservice");
const HS_TOKEN = "h";
async function start(log) {
  AppService.prototype.onMorganLog = (line) => log.push(line.trim());
  const as = new AppService({ homeserverToken: HS_TOKEN });
  await as.listen(0, "127.0.0.1");
  return as;
}
const put = (as, txn, query = "") =>
  fetch(`http://127.0.0.1:${as.server.address().port}/_matrix/app/v1/transactions/${txn}${query}`, {
    method: "PUT",
    headers: { "content-type": "application/json", ...(query ? {} : { authorization: `Bearer ${HS_TOKEN}` }) },
    body: JSON.stringify({ events: [{ type: "m.room.message", event_id: "$1", room_id: "!r:s", sender: "@s:s" }] }),
  });
let unhandled = 0;
process.on("unhandledRejection", () => unhandled++);
(async () => {
  const log = [];
  const a = await start(log);
  let finished = 0;
  a.on("event", async () => {
    await new Promise((r) => setTimeout(r, 500)); // the handler's database write
    finished++;
    throw new Error("database down"); // ... which fails
  });
  const t0 = Date.now();
  const res = await put(a, "txn1");
  console.log(`answered ${res.status} after ${Date.now() - t0} ms, handlers finished: ${finished}`);
  await new Promise((r) => setTimeout(r, 700));
  console.log(
    `handler failed after the answer (unhandled rejections: ${unhandled}, which end a Node process by default); Synapse will not send txn1 again`,
  );
  // A restart (or another replica) gets txn1 again, e.g. because Synapse never saw the answer.
  const b = await start(log);
  let again = 0;
  b.on("event", () => again++);
  await put(b, "txn1");
  console.log(`second process handled txn1 again: ${again} time(s)`);
  // Same process, txn1 after txn2: only the last id is remembered.
  await put(b, "txn2");
  const before = again;
  await put(b, "txn1");
  console.log(`same process, txn1 after txn2, handled again: ${again - before} time(s)`);
  // The legacy query-string token lands in the access log.
  await put(b, "txn3", `?access_token=${HS_TOKEN}`);
  console.log(
    "access log line:",
    log.find((l) => l.includes("access_token")),
  );
  await a.close();
  await b.close();
  process.exit(0);
})();
