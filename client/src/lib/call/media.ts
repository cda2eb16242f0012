// The media of a call on the page: livekit-client's Room, end-to-end encrypted with the keys of
// MatrixRTC (keys.ts) in LiveKit's E2EE worker. Loaded only when someone joins a call (the
// Call component imports it on demand), so no page carries LiveKit before that.
import {
  ConnectionState,
  MediaDeviceFailure,
  Room,
  RoomEvent,
  Track,
  type Participant,
  type RemoteTrack,
  type RemoteParticipant,
} from "livekit-client";
import { LEAVING_EVENT } from "../quick-exit/quick-exit.ts";
import { MatrixKeyProvider } from "./keys.ts";

export { MatrixKeyProvider };

/** Why a microphone or camera could not be used. */
export type DeviceProblem = "denied" | "missing" | "busy" | "failed";

/** The problem to show for an error of getUserMedia (as LiveKit classifies it). */
export function deviceProblem(err: unknown): DeviceProblem {
  switch (MediaDeviceFailure.getFailure(err)) {
    case MediaDeviceFailure.PermissionDenied:
      return "denied";
    case MediaDeviceFailure.NotFound:
      return "missing";
    case MediaDeviceFailure.DeviceInUse:
      return "busy";
    default:
      return "failed";
  }
}

/** One other participant as the call screen shows them. */
export interface RemoteView {
  identity: string;
  video: RemoteTrack | null;
  audio: RemoteTrack | null;
  /** LiveKit says that everything they send us arrives encrypted. */
  encrypted: boolean;
}

/** What the call screen shows of the media; `onChange` gets it after every change. */
export interface MediaView {
  connected: boolean;
  /** End-to-end encryption is on for this room (LiveKit's `isE2EEEnabled`). */
  encrypted: boolean;
  microphone: boolean;
  camera: boolean;
  remotes: RemoteView[];
  /** A frame could not be decrypted (a key has not arrived yet, or never will). */
  decryptionTrouble: boolean;
}

/** A connection to the call's LiveKit room, from the first key to the hang-up. */
export class CallMedia {
  readonly keys = new MatrixKeyProvider();
  private readonly worker = new Worker(new URL("livekit-client/e2ee-worker", import.meta.url), {
    type: "module",
    name: "connecta-e2ee",
  });
  readonly room = new Room({ encryption: { keyProvider: this.keys, worker: this.worker } });
  private decryptionTrouble = false;
  private stopped = false;
  // The quick exit: camera and microphone off at once, before anything else happens.
  private readonly onLeaving = (): void => this.stop();

  /**
   * @param onChange - gets the view after every change
   * @param onEnded - called when LiveKit ends our connection without our hanging up (e.g. the
   *   conversation was closed or handed over: the workflow removes people from its call)
   */
  constructor(
    private readonly onChange: (view: MediaView) => void,
    private readonly onEnded: () => void = () => {},
  ) {
    const update = (): void => this.report();
    for (const event of [
      RoomEvent.ParticipantConnected,
      RoomEvent.ParticipantDisconnected,
      RoomEvent.TrackSubscribed,
      RoomEvent.TrackUnsubscribed,
      RoomEvent.TrackMuted,
      RoomEvent.TrackUnmuted,
      RoomEvent.LocalTrackPublished,
      RoomEvent.LocalTrackUnpublished,
      RoomEvent.ParticipantEncryptionStatusChanged,
      RoomEvent.Connected,
      RoomEvent.Disconnected,
    ] as const) {
      this.room.on(event, update);
    }
    this.room.on(RoomEvent.Disconnected, () => {
      if (!this.stopped) this.onEnded();
    });
    this.room.on(RoomEvent.EncryptionError, () => {
      this.decryptionTrouble = true;
      this.report();
    });
    window.addEventListener(LEAVING_EVENT, this.onLeaving);
  }

  /** Connects with the token, encryption on before any media flows. */
  async connect(url: string, jwt: string): Promise<void> {
    await this.room.setE2EEEnabled(true);
    await this.room.connect(url, jwt);
    this.report();
  }

  /** Turns the microphone on or off; answers the problem if it cannot be used. */
  async setMicrophone(on: boolean): Promise<DeviceProblem | null> {
    try {
      await this.room.localParticipant.setMicrophoneEnabled(on);
      return null;
    } catch (err) {
      return deviceProblem(err);
    } finally {
      this.report();
    }
  }

  /** Turns the camera on or off; answers the problem if it cannot be used. */
  async setCamera(on: boolean): Promise<DeviceProblem | null> {
    try {
      await this.room.localParticipant.setCameraEnabled(on);
      return null;
    } catch (err) {
      return deviceProblem(err);
    } finally {
      this.report();
    }
  }

  /** Our camera's track, for the preview. */
  get localVideo(): Track | null {
    return this.room.localParticipant.getTrackPublication(Track.Source.Camera)?.track ?? null;
  }

  /**
   * Hangs up: releases camera and microphone at once (synchronously: the quick exit relies on
   * it), then leaves LiveKit's room and ends the E2EE worker.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    window.removeEventListener(LEAVING_EVENT, this.onLeaving);
    for (const publication of this.room.localParticipant.trackPublications.values()) {
      publication.track?.mediaStreamTrack.stop();
    }
    void this.room
      .disconnect(true)
      .catch(() => {})
      .finally(() => this.worker.terminate());
  }

  private report(): void {
    const local = this.room.localParticipant;
    this.onChange({
      connected: this.room.state === ConnectionState.Connected,
      encrypted: this.room.isE2EEEnabled,
      microphone: local.isMicrophoneEnabled,
      camera: local.isCameraEnabled,
      remotes: [...this.room.remoteParticipants.values()].map(remoteView),
      decryptionTrouble: this.decryptionTrouble,
    });
  }
}

function remoteView(participant: RemoteParticipant): RemoteView {
  const track = (source: Track.Source): RemoteTrack | null => {
    const publication = participant.getTrackPublication(source);
    return publication?.isSubscribed && !publication.isMuted ? (publication.track ?? null) : null;
  };
  return {
    identity: participant.identity,
    video: track(Track.Source.Camera),
    audio: track(Track.Source.Microphone),
    encrypted: (participant as Participant).isEncrypted,
  };
}
