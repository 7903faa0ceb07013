// The app's settings from the server (GET /api/v1/r/config, no sign-in needed): the hotline, how
// many photos and how large, the code's length, whether the app is open. The hotline is also kept
// in the browser so that the number is there on every page even when the server cannot be reached.

import { api } from "./api.js";

const HOTLINE_KEY = "sanshe.r.hotline";
const DEFAULTS = { hotline: "", max_photos: 3, max_photo_mb: 10, code_length: 6, enabled: true };

export const config = { ...DEFAULTS, hotline: localStorage.getItem(HOTLINE_KEY) || "", loaded: false };

export async function loadConfig() {
  try {
    Object.assign(config, await api("/api/v1/r/config"), { loaded: true });
    if (config.hotline) localStorage.setItem(HOTLINE_KEY, config.hotline);
  } catch {
    // offline or the server is down: the kept hotline and the defaults serve
  }
  showHotline();
  return config;
}

/** The tel: address of the hotline (digits, + and the extension's comma only). */
export const hotlineHref = () => `tel:${config.hotline.replace(/[^\d+,]/g, "")}`;

function showHotline() {
  const link = document.getElementById("hotline");
  link.hidden = !config.hotline;
  if (!config.hotline) return;
  link.href = hotlineHref();
  document.getElementById("hotline-number").textContent = config.hotline;
}
