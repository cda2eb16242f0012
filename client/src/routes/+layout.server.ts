import type { LayoutServerLoad } from "./$types";

/** Hands the language chosen in src/hooks.server.ts to the root layout, which renders in it. */
export const load: LayoutServerLoad = ({ locals }) => ({ lang: locals.lang });
