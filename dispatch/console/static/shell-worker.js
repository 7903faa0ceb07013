// The offline app shell, shared by two service workers: the console's (sw.js, scope /console/)
// and the residents' app's (/r/sw.js, scope /r/), each of which imports this script and calls
// keepShell with its own cache name and files.
//
// The shell (the page, its stylesheet, its modules, the manifest and icons) is cached at install
// and served when the network does not answer. It is fetched network-first, as the server's
// no-cache asks, so an upgraded server never runs with yesterday's modules while the network is
// there. Nothing outside the worker's scope is touched: API answers (residents' names, numbers,
// addresses) go to the network and are never kept, so nothing personal stays on a lost phone but
// what the page itself holds. Cache storage is the origin's, shared by both apps: each deletes
// only its own older caches, by their prefix.

/* exported keepShell */
function keepShell({ prefix, version, files }) {
  const current = `${prefix}${version}`;

  self.addEventListener("install", (event) => {
    event.waitUntil(
      caches
        .open(current)
        .then((cache) => cache.addAll(files))
        .then(() => self.skipWaiting()),
    );
  });

  self.addEventListener("activate", (event) => {
    const stale = (name) => name.startsWith(prefix) && name !== current;
    event.waitUntil(
      caches
        .keys()
        .then((names) => Promise.all(names.filter(stale).map((name) => caches.delete(name))))
        .then(() => self.clients.claim()),
    );
  });

  self.addEventListener("fetch", (event) => {
    const url = new URL(event.request.url);
    const scope = new URL(self.registration.scope);
    if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) {
      return;
    }
    event.respondWith(
      fetch(event.request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(current).then((cache) => cache.put(event.request, copy));
          }
          return response;
        })
        .catch(() => caches.match(event.request, { ignoreSearch: true }).then((hit) => hit || Response.error())),
    );
  });
}
