// Installable: the manifest is linked by index.html; the service worker (sw.js, scope /r/) keeps
// the app shell so that the app opens without a connection. It never keeps API answers.

import { installed } from "./api.js";

export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch((err) => {
    console.warn("service worker not registered", err);
  });
}

/** The channel a request arrives by: "app" from the installed app, "web" from a browser tab. */
export const channel = () => (installed() ? "app" : "web");
