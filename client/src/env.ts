// Declares the environment variables the app may read (SvelteKit 3 exposes only declared
// variables, through $app/env/private). They are read when the server starts, not at build
// time. Here they are plain optional strings: src/lib/server/config.ts, the only module that
// reads them, validates them and stops the start with an error naming the variable.
// HOST and PORT are read by server.js.
import { defineEnvVars } from "@sveltejs/kit/env";

/** Accepts any value, including none, so that `vite build` does not need the variables. */
const optionalString = (value: string | undefined): string | undefined => value;

export const variables = defineEnvVars({
  CONNECTA_HOMESERVER_URL: {
    description: "Public base URL of the Matrix homeserver (Synapse), e.g. http://127.0.0.1:8008. Required.",
    schema: optionalString,
  },
  CONNECTA_APPSERVICE_URL: {
    description:
      "Base URL of the application service as this server reaches it, e.g. http://127.0.0.1:9009; /api/v1/ forwards to it. Required.",
    schema: optionalString,
  },
  CONNECTA_LIVEKIT_URL: {
    description: "ws:// or wss:// URL of the LiveKit server; added to connect-src. Optional.",
    schema: optionalString,
  },
  CONNECTA_SITE_FILE: {
    description:
      "JSON file with the operator's Impressum, privacy notice and crisis lines (ops/site.sample.json). Optional: without it, those pages say that the operator has not given them yet.",
    schema: optionalString,
  },
  CONNECTA_IDLE_LOCK_MINUTES: {
    description:
      "Minutes without input after which a logged-in tab locks (logs this device out), 1 to 1440. Optional, default 15.",
    schema: optionalString,
  },
});
