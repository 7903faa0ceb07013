// The worker's phone app is the console installed on the home screen: the manifest (linked only
// when the worker view opens, so only that view offers to install) and the service worker that
// keeps the app shell for opening without a connection (sw.js; it never keeps API answers).

export function installable() {
  if (!document.querySelector('link[rel="manifest"]')) {
    const link = document.createElement("link");
    link.rel = "manifest";
    link.href = "manifest.webmanifest";
    document.head.append(link);
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((err) => console.warn("service worker not registered", err));
  }
}
