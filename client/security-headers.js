/**
 * The security policy of the Connecta client, in one place.
 *
 * Plain JavaScript (typed with JSDoc) because `server.js` imports it at run time, outside the
 * Vite build. `vite.config.ts` takes the CSP directives from here, and `src/hooks.server.ts`
 * applies the same headers to everything SvelteKit renders (also under `vite dev`).
 */

/** CSP hash of the inline style of SvelteKit's route announcer, see `style-src-attr`. */
export const ANNOUNCER_STYLE_HASH = "sha256-S8qMpvofolR8Mpjy4kQvEm7m1q8clzU4dfDH0AmvZjo=";

/**
 * Content-Security-Policy for HTML pages, handed to SvelteKit's `csp` option, which adds a
 * nonce (or hash) for its inline hydration script. Keywords are written without quotes;
 * SvelteKit quotes them. The homeserver (and LiveKit) origin is only known at run time:
 * `src/hooks.server.ts` appends it to `connect-src`.
 *
 * @type {NonNullable<NonNullable<import('@sveltejs/kit/vite').Config['csp']>['directives']>}
 */
export const CSP_DIRECTIVES = {
  "default-src": ["none"],
  // 'wasm-unsafe-eval' is needed later for matrix-sdk-crypto-wasm (end-to-end encryption).
  "script-src": ["self", "wasm-unsafe-eval"],
  "style-src": ["self"],
  // SvelteKit's route announcer (#svelte-announcer, read out by screen readers after a
  // client-side navigation) has an inline style attribute (SvelteKit issue #11993). This
  // allows exactly that attribute and nothing else; csp-directives.test.ts checks the hash.
  "style-src-attr": ["unsafe-hashes", ANNOUNCER_STYLE_HASH],
  "img-src": ["self", "data:", "blob:"],
  "font-src": ["self"],
  "connect-src": ["self"],
  "media-src": ["self", "blob:"],
  "worker-src": ["self", "blob:"],
  "manifest-src": ["self"],
  "frame-src": ["none"],
  "object-src": ["none"],
  "base-uri": ["none"],
  "form-action": ["self"],
  "frame-ancestors": ["none"],
};

/**
 * Content-Security-Policy for every response that is not an HTML page (static files, data,
 * 404s of `server.js`). SvelteKit's page policy replaces it on pages.
 */
export const FALLBACK_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/** Where the scripts of our web workers are served (SvelteKit's output for `new Worker(...)`). */
export const WORKER_PATH_PREFIX = "/_app/immutable/workers/";

/**
 * Content-Security-Policy for the script of a web worker. A worker is governed by the policy
 * that comes with its own script, not by the page's: the Matrix worker imports its chunks,
 * compiles the crypto WASM, fetches the WASM from our origin and talks to the homeserver.
 *
 * @param {readonly string[]} connectOrigins - the homeserver's origin (as for pages' connect-src)
 * @returns {string}
 */
export function workerCsp(connectOrigins) {
  for (const origin of connectOrigins) {
    if (!/^https?:\/\/[^\s;,'/]+$/.test(origin))
      throw new Error(`Invalid origin for a worker CSP: ${JSON.stringify(origin)}`);
  }
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `connect-src ${["'self'", ...connectOrigins].join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/**
 * Browser features, by Permissions-Policy name. Only what video counselling needs later is
 * allowed, and only for our own origin; everything else is switched off. Features that
 * Chromium does not know (e.g. ambient-light-sensor, bluetooth, web-share) are left out:
 * it logs a console error for each.
 *
 * @type {Readonly<Record<string, '(self)' | '()'>>}
 */
const PERMISSIONS = {
  camera: "(self)",
  microphone: "(self)",
  "display-capture": "(self)",
  fullscreen: "(self)",
  // Remote audio and video of a call must start without an extra click.
  autoplay: "(self)",
  accelerometer: "()",
  "browsing-topics": "()",
  "compute-pressure": "()",
  "encrypted-media": "()",
  gamepad: "()",
  geolocation: "()",
  gyroscope: "()",
  hid: "()",
  "identity-credentials-get": "()",
  "idle-detection": "()",
  "interest-cohort": "()",
  "local-fonts": "()",
  magnetometer: "()",
  midi: "()",
  "otp-credentials": "()",
  payment: "()",
  "picture-in-picture": "()",
  "screen-wake-lock": "()",
  serial: "()",
  "storage-access": "()",
  "sync-xhr": "()",
  usb: "()",
  "window-management": "()",
  "xr-spatial-tracking": "()",
};

/** The `Permissions-Policy` header value built from {@link PERMISSIONS}. */
export const PERMISSIONS_POLICY = Object.entries(PERMISSIONS)
  .map(([feature, allowlist]) => `${feature}=${allowlist}`)
  .join(", ");

/**
 * Headers set on every response. `Content-Security-Policy` is not in this list: pages get
 * SvelteKit's policy, everything else {@link FALLBACK_CSP}.
 *
 * @type {Readonly<Record<string, string>>}
 */
export const SECURITY_HEADERS = Object.freeze({
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
  "Permissions-Policy": PERMISSIONS_POLICY,
});
