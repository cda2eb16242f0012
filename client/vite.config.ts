// SvelteKit 3 takes its configuration here, as options of the `sveltekit()` plugin:
// it no longer reads svelte.config.js (the build fails if that file exists).
import adapter from "@sveltejs/adapter-node";
import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vite";
import { CSP_DIRECTIVES } from "./security-headers.js";

export default defineConfig({
  plugins: [
    sveltekit({
      // Output in build/; started by server.js, which adds security headers to static files.
      // Precompressed (gzip, brotli): the crypto WASM shrinks from 7.8 MB to about 2 MB.
      adapter: adapter({ precompress: true }),
      // 'auto': a nonce for the inline hydration script of server-rendered pages
      // (a hash for prerendered ones).
      csp: { mode: "auto", directives: CSP_DIRECTIVES },
      // SvelteKit's CSRF check answers in plain text before any hook runs; src/hooks.server.ts
      // makes the same check for every request instead (src/lib/server/csrf.ts), so that the
      // API can refuse in JSON. '*' is the only way to switch SvelteKit's own check off.
      csrf: { trustedOrigins: ["*"] },
      inlineStyleThreshold: Infinity,
    }),
  ],
  build: {
    // The Matrix SDK chunk (about 250 KB gzipped) is loaded only on pages that need it.
    chunkSizeWarningLimit: 1000,
  },
  // The Matrix worker (src/lib/matrix/worker.ts) imports the SDK, which splits into chunks.
  worker: { format: "es" },
  environments: {
    client: {
      build: {
        rolldownOptions: {
          output: {
            codeSplitting: {
              groups: [
                {
                  name: "framework",
                  test: (id: string) =>
                    /node_modules[\\/](svelte|@sveltejs[\\/]kit|esm-env|devalue|clsx)[\\/]|vite[\\/]preload-helper|src[\\/]lib[\\/](i18n|quick-exit)[\\/]/.test(
                      id,
                    ) && !/@sveltejs[\\/]kit[\\/]src[\\/]runtime[\\/]client[\\/]/.test(id),
                },
                {
                  // Our shared code of the pages after the start page (session, chat, API, intake
                  // helpers): one file, not a dozen small ones. The Matrix client stays in its
                  // worker, the password list in its own file (loaded on use), LiveKit and the call's
                  // media in their own (loaded on joining a call).
                  name: "app",
                  test: (id: string) =>
                    /src[\\/]lib[\\/]/.test(id) &&
                    !/\.txt(\?|$)|[\\/]matrix[\\/](client|conversation|worker)\.|[\\/]call[\\/](media|keys|rtc-session)\./.test(
                      id,
                    ),
                },
              ],
            },
          },
        },
      },
    },
  },
});
