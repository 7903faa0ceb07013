// The residents' app opens without a connection: this service worker (scope /r/) keeps the app
// shell (the page, its stylesheet, its modules, the manifest and icons) and serves it when the
// network does not answer. It never touches the API: /api answers (the resident's requests,
// name, address) go to the network and are never kept here. The shell is fetched network-first,
// as the server's no-cache asks, so an upgraded server never runs with yesterday's modules.
//
// Caches are shared by every app of this origin (the staff console has its own): only this app's
// older caches are deleted, by their prefix.

const PREFIX = "sanshe-resident-shell-";
const CACHE = `${PREFIX}v1`;
const SHELL = [
  "./",
  "index.html",
  "resident.css",
  "manifest.webmanifest",
  "icons/resident.svg",
  "icons/resident-maskable.svg",
  "js/api.js",
  "js/catalogue.js",
  "js/config.js",
  "js/dom.js",
  "js/home.js",
  "js/main.js",
  "js/nav.js",
  "js/new-request.js",
  "js/photos.js",
  "js/place.js",
  "js/profile.js",
  "js/pwa.js",
  "js/request-detail.js",
  "js/requests.js",
  "js/signin.js",
  "js/text-size.js",
  "js/when.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  // Only this app's own files; the API and everything else pass by untouched.
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || Response.error())),
  );
});
