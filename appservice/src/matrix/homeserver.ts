/**
 * Calls to Synapse's client-server API as the application service bot.
 */

/** Minimal client for the homeserver, authenticated with the as_token. */
export interface Homeserver {
  /** Resolves with the bot's user id if Synapse accepts our as_token; throws otherwise. */
  whoami(): Promise<string>;
}

/** Creates the homeserver client. */
export function createHomeserver(baseUrl: string, asToken: string): Homeserver {
  return {
    async whoami() {
      const res = await fetch(`${baseUrl}/_matrix/client/v3/account/whoami`, {
        headers: { authorization: `Bearer ${asToken}` },
        signal: AbortSignal.timeout(5_000),
      });
      const body = (await res.json().catch(() => ({}))) as { user_id?: unknown; errcode?: unknown };
      if (res.status !== 200 || typeof body.user_id !== "string") {
        throw new Error(`whoami answered ${res.status} ${String(body.errcode ?? "")}`.trim());
      }
      return body.user_id;
    },
  };
}
