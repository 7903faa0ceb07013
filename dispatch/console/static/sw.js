// The worker's phone app opens without a connection: this service worker keeps the app shell
// (the page, its stylesheet, its modules, the manifest and icons) and serves it when the network
// does not answer. It never touches the API: /api answers (residents' names, numbers, addresses)
// go to the network and are never kept here, so nothing personal stays on a lost phone but what
// the page itself holds. The shell is fetched network-first, as the server's no-cache asks, so an
// upgraded server is never run with yesterday's modules while the network is there.

const CACHE = "sanshe-shell-v1";
const SHELL = [
  "./",
  "index.html",
  "console.css",
  "manifest.webmanifest",
  "icons/worker.svg",
  "icons/worker-maskable.svg",
  "js/actions.js",
  "js/admin-attempts.js",
  "js/admin-audit.js",
  "js/admin-calendar-schedule.js",
  "js/admin-calendar.js",
  "js/admin-catalogue.js",
  "js/admin-kit.js",
  "js/admin-outbox.js",
  "js/admin-providers.js",
  "js/admin-users.js",
  "js/admin.js",
  "js/alerts.js",
  "js/api.js",
  "js/callbacks.js",
  "js/capabilities.js",
  "js/counts.js",
  "js/coverage.js",
  "js/drafts.js",
  "js/field.js",
  "js/intake.js",
  "js/items.js",
  "js/kpis.js",
  "js/main.js",
  "js/nav.js",
  "js/operator.js",
  "js/order-detail.js",
  "js/orders.js",
  "js/outbox.js",
  "js/outcomes.js",
  "js/paged-table.js",
  "js/photo-store.js",
  "js/photos.js",
  "js/pwa.js",
  "js/reveal.js",
  "js/search-picker.js",
  "js/signature.js",
  "js/supervisor.js",
  "js/ui.js",
  "js/visit-intake.js",
  "js/visits.js",
  "js/worker-actions.js",
  "js/worker.js",
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
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  // Only the console's own files; the API, the event stream and everything else pass by untouched.
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
