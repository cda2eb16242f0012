// Opt-in alerts of the counsellor's workspace: a browser notification and a short tone when a
// message or an enquiry comes in. Neither is ever switched on unasked (the browser's permission
// is asked only when the counsellor presses the button), and neither carries anything of the
// conversation: the notification says only that something new is there (no pseudonym, no text,
// nothing an onlooker or the operating system's notification log could keep), and the tone is
// made here with WebAudio (no file, no request).

const NOTIFY_KEY = "connecta.workspace.notify";
const SOUND_KEY = "connecta.workspace.sound";

/** The counsellor's choices on this device (not secret: whether to be alerted at all). */
export interface AlertChoices {
  notify: boolean;
  sound: boolean;
}

/** The choices stored on this device; notifications count only while the browser allows them. */
export function loadChoices(): AlertChoices {
  const stored = (key: string): boolean => {
    try {
      return localStorage.getItem(key) === "1";
    } catch {
      return false;
    }
  };
  return { notify: stored(NOTIFY_KEY) && notificationPermission() === "granted", sound: stored(SOUND_KEY) };
}

/** Stores one choice on this device. */
export function saveChoice(which: keyof AlertChoices, on: boolean): void {
  try {
    localStorage.setItem(which === "notify" ? NOTIFY_KEY : SOUND_KEY, on ? "1" : "0");
  } catch {
    // Storage refused (private mode): the choice lasts as long as the page.
  }
}

/** The browser's notification permission, or "unsupported". */
export function notificationPermission(): NotificationPermission | "unsupported" {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

/** Asks the browser for permission (only ever from a button press); answers whether it was given. */
export async function askNotificationPermission(): Promise<boolean> {
  if (typeof Notification === "undefined") return false;
  if (Notification.permission === "granted") return true;
  return (await Notification.requestPermission()) === "granted";
}

/** Shows a notification with `title` and `body`, which must carry nothing of the conversation. */
export function notify(title: string, body: string): void {
  if (notificationPermission() !== "granted") return;
  try {
    // The tag makes a new one replace the last instead of piling up.
    new Notification(title, { body, tag: "connecta" });
  } catch {
    // Some browsers allow notifications only from a service worker: then there is none.
  }
}

let audio: AudioContext | null = null;

/**
 * Prepares the tone; call it from the button press that switches the sound on (browsers let a
 * page make sound only after the person has interacted with it).
 */
export function unlockSound(): void {
  audio ??= new AudioContext();
  void audio.resume();
}

/** Plays a short, soft two-note tone (silent until the person has interacted with the page). */
export function chime(): void {
  if (typeof AudioContext === "undefined") return;
  audio ??= new AudioContext();
  if (audio.state === "suspended") void audio.resume().catch(() => {});
  const start = audio.currentTime;
  for (const [i, frequency] of [660, 880].entries()) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = frequency;
    const at = start + i * 0.15;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.08, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.14);
    tone.connect(gain).connect(audio.destination);
    tone.start(at);
    tone.stop(at + 0.15);
  }
}
