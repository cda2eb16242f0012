// Sets up svelte-i18n once per process (server) or page load (browser). Both dictionaries are
// small and bundled, so switching languages is synchronous: no loader, no waiting.
import { addMessages, init } from "svelte-i18n";
import de from "./de.json";
import en from "./en.json";
import { DEFAULT_LANGUAGE } from "./negotiate.ts";

addMessages("de", de);
addMessages("en", en);
init({ fallbackLocale: DEFAULT_LANGUAGE, initialLocale: DEFAULT_LANGUAGE });
