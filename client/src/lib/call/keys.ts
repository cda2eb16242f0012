// LiveKit's end-to-end encryption with the media keys of MatrixRTC: each participant encrypts
// with a key of its own, which reaches the others over Olm (rtc-session.ts, in the Matrix
// worker); this provider hands each key to LiveKit's E2EE worker for the participant it belongs
// to. There is no shared key: a participant without a member's key decrypts nothing of theirs.
import { BaseKeyProvider, createKeyMaterialFromBuffer } from "livekit-client";

/**
 * How the keys are used. Not shared; on a frame that does not decrypt, LiveKit's worker tries
 * up to ten ratchet steps of the participant's key (a sender ratchets instead of sending a new
 * key); 256 key indices, as MatrixRTC counts them.
 */
export const KEY_OPTIONS = { sharedKey: false, ratchetWindowSize: 10, keyringSize: 256 } as const;

/** A media key as the Matrix worker forwards it (see MediaKey in rtc-session.ts). */
export interface ParticipantKey {
  key: Uint8Array<ArrayBuffer>;
  index: number;
  identity: string;
}

/** The key provider of a call: keys per participant, set from MatrixRTC. */
export class MatrixKeyProvider extends BaseKeyProvider {
  private chain = Promise.resolve();

  constructor() {
    super(KEY_OPTIONS);
  }

  /**
   * Sets `identity`'s key number `index` (ours too: LiveKit encrypts with the local
   * participant's latest key). Keys are set in the order they arrive.
   */
  setParticipantKey({ key, index, identity }: ParticipantKey): Promise<void> {
    this.chain = this.chain.then(async () => {
      // A copy: the buffer may be a view of something larger, and LiveKit keeps the material.
      const material = await createKeyMaterialFromBuffer(key.slice().buffer);
      this.onSetEncryptionKey(material, identity, index);
    });
    return this.chain;
  }
}
