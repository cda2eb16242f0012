import type { PageServerLoad } from "./$types";

/** The operator's text (CONNECTA_SITE_FILE), or null until they give it. */
export const load: PageServerLoad = async () => {
  const { config } = await import("../../lib/server/config.ts");
  return { text: config.site.imprint };
};
