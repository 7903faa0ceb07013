// A new offer must be noticed with the phone in a pocket: vibration, a short beep (generated with
// WebAudio: no sound file to load) and a count on the title and the installed app's icon.

let audio = null;

/** Browsers let a page make sound only after a tap on it: from then on, the taps prepare the audio. */
export function prepareSound() {
  document.addEventListener("pointerdown", () => {
    if (!audio && window.AudioContext) audio = new AudioContext();
    audio?.resume?.();
  });
}

function beep() {
  if (!audio || audio.state !== "running") return;
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.frequency.value = 880;
  gain.gain.setValueAtTime(0.2, audio.currentTime);
  gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.4);
}

/** A new offer has arrived. */
export function ring() {
  navigator.vibrate?.([200, 100, 200]);
  beep();
}

const TITLE = "社区服务·工作端";

/** The number of offers waiting for a signature, on the title and the app icon. */
export function badge(count) {
  document.title = count ? `(${count}) 新派单 · ${TITLE}` : TITLE;
  if (count) navigator.setAppBadge?.(count).catch(() => {});
  else navigator.clearAppBadge?.().catch(() => {});
}
