// Runs the proof of work of an intake challenge in a Web Worker (pow.worker.ts).
import type { Schemas } from "../api/contract.gen.ts";

/** A challenge as `GET /api/v1/intake/challenge` answers it. */
export type Challenge = Schemas["IntakeChallenge"];

/** A running proof of work. */
export interface PowJob {
  /** Resolves with the nonce; rejects if the worker fails. */
  nonce: Promise<string>;
  /** Stops the worker (e.g. when the page is left or a new challenge is needed). */
  cancel(): void;
}

/**
 * How far a proof of work probably is: the chance that `tries` hashes would have found a
 * solution by now. Honest enough for a progress bar; never reaches 1 before the end.
 */
export function powProgress(tries: number, difficulty: number): number {
  return Math.min(0.99, 1 - Math.exp(-tries / 2 ** difficulty));
}

/**
 * Starts solving `challenge` in a worker.
 *
 * @param onProgress - called with a value from 0 to 1 while the worker works (1 when solved)
 */
export function solveInWorker(challenge: Challenge, onProgress: (progress: number) => void): PowJob {
  const worker = new Worker(new URL("./pow.worker.ts", import.meta.url), { type: "module" });
  const nonce = new Promise<string>((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<{ type: string; nonce?: string; tries: number }>) => {
      if (event.data.type === "solved" && event.data.nonce !== undefined) {
        onProgress(1);
        worker.terminate();
        resolve(event.data.nonce);
      } else {
        onProgress(powProgress(event.data.tries, challenge.difficulty));
      }
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || "proof-of-work worker failed"));
    };
  });
  worker.postMessage({ challengeId: challenge.challenge_id, difficulty: challenge.difficulty });
  return { nonce, cancel: () => worker.terminate() };
}
