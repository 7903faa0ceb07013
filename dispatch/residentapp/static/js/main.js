// The residents' app: one screen at a time, chosen by the address's #/route.
//
//   #/signin          phone number, then the SMS code
//   #/                home: 新的求助 · 我的求助 · the hotline
//   #/new             a new request, one question per screen
//   #/requests        my requests;  #/requests/<id>  one request, its timeline and what I can do
//   #/profile         my name and address; sign out
//
// A screen is a function (view, params) that fills `view`, a fresh element for each visit (so what
// a slow answer writes into a screen already left is never seen), and may return a function that
// stops whatever it left running (polling) when the resident moves on.

import { session, whenSignedOut } from "./api.js";
import { config, loadConfig } from "./config.js";
import { el, heading, show } from "./dom.js";
import { homeScreen } from "./home.js";
import { signInFirst } from "./nav.js";
import { newRequestScreen } from "./new-request.js";
import { profileScreen } from "./profile.js";
import { registerServiceWorker } from "./pwa.js";
import { requestScreen } from "./request-detail.js";
import { requestsScreen } from "./requests.js";
import { signInScreen } from "./signin.js";
import { setUpTextSize } from "./text-size.js";

const ROUTES = [
  [/^signin$/, signInScreen, { public: true }],
  [/^$/, homeScreen],
  [/^new(?:\/(\w+))?$/, newRequestScreen],
  [/^requests$/, requestsScreen],
  [/^requests\/(\d+)$/, requestScreen],
  [/^profile$/, profileScreen],
];

const root = document.getElementById("screen");
let stop = null;

const route = () => location.hash.replace(/^#\/?/, "");

function render() {
  if (stop) stop();
  stop = null;
  const path = route();
  const found = ROUTES.find(([pattern]) => pattern.test(path));
  if (!found) {
    location.replace("#/");
    return;
  }
  const [pattern, screen, options = {}] = found;
  if (!options.public && !session.token) return signInFirst(path);
  if (!config.enabled && config.loaded) return closed();
  document.body.dataset.screen = path.split("/")[0] || "home";
  const view = el("div", { class: "view" });
  root.replaceChildren(view);
  stop = screen(view, path.match(pattern).slice(1)) || null;
  window.scrollTo(0, 0);
  view.querySelector("h1")?.focus({ preventScroll: true });
}

function closed() {
  show(
    root,
    heading("暂未开放"),
    el("p", { class: "lead" }, "网上求助暂未开放，请拨打下方的服务热线，我们的工作人员为您登记。"),
  );
}

async function start() {
  setUpTextSize();
  registerServiceWorker();
  whenSignedOut(() => signInFirst(route()));
  await loadConfig();
  window.addEventListener("hashchange", render);
  render();
}

start();
