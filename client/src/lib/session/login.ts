// Password login at the homeserver, for seekers and counsellors alike. The password goes to the
// homeserver only. Each login is a new device with a new, empty crypto store.
import { ApiProblem, jsonRequest } from "../api/http.ts";
import { forgetLock, newStoreKey, saveSession, type Session } from "./session.ts";

/** Turns what a person typed (a pseudonym, `@name:server` or `name`) into the login identifier. */
export function loginName(input: string): string {
  const trimmed = input.trim();
  const match = /^@([^:]+):/.exec(trimmed);
  return (match?.[1] ?? trimmed).toLowerCase();
}

/**
 * Logs in with user name and password and stores the new session for this tab.
 *
 * @throws ApiProblem with the homeserver's answer (M_FORBIDDEN for a wrong password,
 *   M_LIMIT_EXCEEDED when rate-limited), NetworkError without an answer
 */
export async function passwordLogin(
  homeserverUrl: string,
  name: string,
  password: string,
  role: Session["role"],
): Promise<Session> {
  const res = await jsonRequest(new URL("/_matrix/client/v3/login", homeserverUrl).href, "POST", {
    type: "m.login.password",
    identifier: { type: "m.id.user", user: loginName(name) },
    password,
    initial_device_display_name: role === "seeker" ? "Connecta" : "Connecta (Beratung)",
  });
  if (res.status !== 200) throw new ApiProblem(res);
  const session: Session = {
    role,
    homeserverUrl,
    userId: String(res.body.user_id),
    accessToken: String(res.body.access_token),
    deviceId: String(res.body.device_id),
    pseudonym: loginName(name),
    storeKey: newStoreKey(),
  };
  saveSession(session);
  // A new login replaces a locked one of this tab (whose device stays at the homeserver until
  // "log out on all devices").
  forgetLock();
  return session;
}
