// The residents' app opens without a connection: this service worker (scope /r/) keeps the app
// shell and never touches the API. How is the console's shell-worker.js, which both apps'
// workers import (it is served with the console, which every server mounts beside this app).

importScripts("/console/shell-worker.js");

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

keepShell({ prefix: "sanshe-resident-shell-", version: "v1", files: SHELL });
