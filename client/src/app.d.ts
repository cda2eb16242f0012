import type { Language } from "./lib/i18n/negotiate.ts";

declare global {
  namespace App {
    interface Locals {
      /** Language of this response, chosen in src/hooks.server.ts. */
      lang: Language;
    }
  }
}

export {};
