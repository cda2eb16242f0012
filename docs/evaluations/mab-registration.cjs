// Evidence for docs/architecture.md ("matrix-appservice-bridge: decided part by part"): a round
// trip of Connecta's registration through matrix-appservice's AppServiceRegistration.
// Run from the repository root, with the package installed outside it:
//   npm install --prefix /tmp/mab --ignore-scripts matrix-appservice-bridge@11.2.0
//   NODE_PATH=/tmp/mab/node_modules node docs/evaluations/mab-registration.cjs
const fs = require("fs");
const yaml = require("js-yaml");
const { AppServiceRegistration } = require("matrix-appservice");
const ours = yaml.load(
  fs
    .readFileSync("homeserver-config/appservice-registration.yaml", "utf8")
    .replace(/\{\{APPSERVICE_URL\}\}/, "http://127.0.0.1:9009")
    .replace(/\{\{AS_TOKEN\}\}/, "a")
    .replace(/\{\{HS_TOKEN\}\}/, "h")
    .replace(/\{\{BOT_LOCALPART\}\}/, "connecta-bot")
    .replace(/\{\{USER_NAMESPACE_REGEX\}\}/, "@connecta-.*:localhost"),
);
const reg = AppServiceRegistration.fromObject(ours);
const out = reg.getOutput();
const lost = Object.keys(ours).filter((k) => !(k in out));
console.log("keys lost in the round trip:", lost);
console.log("comments kept:", /#/.test(yaml.dump(out)));
