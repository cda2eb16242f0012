// The idle lock for shared devices: after some minutes without input, `onIdle` runs (the page
// logs this device out). Time spent in a hidden tab or a sleeping laptop counts as idle too.

const ACTIVITY = ["pointerdown", "keydown", "wheel", "touchstart"] as const;

/** Starts watching; returns the function that stops. */
export function watchIdle(minutes: number, onIdle: () => void): () => void {
  const limit = minutes * 60_000;
  let last = Date.now();
  let fired = false;
  const activity = (): void => {
    last = Date.now();
  };
  const check = (): void => {
    if (!fired && Date.now() - last >= limit) {
      fired = true;
      onIdle();
    }
  };
  for (const type of ACTIVITY) window.addEventListener(type, activity, { passive: true, capture: true });
  document.addEventListener("visibilitychange", check);
  const timer = setInterval(check, Math.min(limit, 15_000));
  return () => {
    for (const type of ACTIVITY) window.removeEventListener(type, activity, { capture: true });
    document.removeEventListener("visibilitychange", check);
    clearInterval(timer);
  };
}
