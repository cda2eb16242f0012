import type { LayoutServerLoad } from "./$types";

/**
 * Hands the language chosen in src/hooks.server.ts to the root layout, which renders in it, and
 * what every logged-in page needs: where the homeserver is and when an idle tab locks; and the
 * operator's crisis lines, shown next to 112.
 */
export const load: LayoutServerLoad = async ({ locals }) => {
  // Imported on use: `vite build` loads this module to analyse the routes, without the environment.
  const { config } = await import("../lib/server/config.ts");
  return {
    lang: locals.lang,
    homeserverUrl: config.homeserverUrl.href,
    idleLockMinutes: config.idleLockMinutes,
    crisis: config.site.crisis,
  };
};
