// Web Worker that solves the intake's proof of work off the main thread, so that the page stays
// responsive while the seeker types. Messages: in `{ challengeId, difficulty }`; out
// `{ type: "progress", tries }` now and then, and `{ type: "solved", nonce, tries }` once.
import { solves } from "./sha256.ts";

/** What the page sends. */
interface Task {
  challengeId: string;
  difficulty: number;
}

const REPORT_EVERY = 20_000;

self.onmessage = (event: MessageEvent<Task>) => {
  const { challengeId, difficulty } = event.data;
  for (let n = 0; ; n++) {
    if (solves(challengeId, String(n), difficulty)) {
      self.postMessage({ type: "solved", nonce: String(n), tries: n + 1 });
      return;
    }
    if (n % REPORT_EVERY === REPORT_EVERY - 1) self.postMessage({ type: "progress", tries: n + 1 });
  }
};
