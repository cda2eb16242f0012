import type { PageServerLoad } from "./$types";

/** A topic the seeker can choose, as `GET /api/v1/topics` of the application service lists it. */
export interface PublicTopic {
  id: string;
  name_de: string;
  name_en: string;
}

/**
 * The intake form needs the topics (read here, so that the list is in the page without
 * JavaScript) and the homeserver URL, where the browser registers the seeker.
 */
export const load: PageServerLoad = async ({ fetch }) => {
  // Imported on use: `vite build` loads this module to analyse the routes, without the environment.
  const { config } = await import("../../../lib/server/config.ts");
  let topics: PublicTopic[] = [];
  try {
    const res = await fetch(new URL("/api/v1/topics", config.appserviceUrl), {
      signal: AbortSignal.timeout(10_000),
    });
    if (res.ok) topics = ((await res.json()) as { topics: PublicTopic[] }).topics;
  } catch {
    // The page says that no topics can be shown and asks to try again later.
  }
  return { topics, homeserverUrl: config.homeserverUrl.href };
};
