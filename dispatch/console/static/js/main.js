// The console shell: sign-in, the top bar, tabs by role, hash routing and the live event stream.
//
// Routes are "#/<view>?<params>" so the back button, reloads and links between views work.
// Each view is built once and kept (hidden) when another tab is shown: an operator's half-typed
// order and the last screen pop survive a look at the orders list.

import { api, auth, connectEvents, onUnauthorized, signIn } from "./api.js";
import { ROLE_LABELS, clear, errorText, h, toast } from "./ui.js";
import { watchCoverage } from "./coverage.js";
import * as admin from "./admin.js";
import * as callbacks from "./callbacks.js";
import * as league from "./league.js";
import { worklistCounts } from "./counts.js";
import * as desk from "./operator.js";
import * as orders from "./orders.js";
import * as stats from "./supervisor.js";
import * as visit from "./visit-intake.js";
import * as mine from "./worker.js";

const VIEWS = {
  desk: { label: "坐席", en: "Operator desk: screen pop and intake", module: desk },
  callbacks: { label: "回拨回访", en: "Worklists: calls to return, rating callbacks", module: callbacks },
  orders: { label: "工单", en: "Orders", module: orders },
  stats: { label: "督办", en: "Supervision: KPIs and calls", module: stats },
  mine: { label: "我的工单", en: "My orders", module: mine },
  league: { label: "星级评价", en: "Star evaluation: your organisation against the district", module: league },
  visit: { label: "上门登记", en: "Home visit: a request met at the door, or a patrol report", module: visit },
  admin: { label: "管理", en: "Administration: accounts, providers, calendar, catalogue, access trail", module: admin },
};

// 上门登记 for every role the API lets file a home-visit request (channel "visit").
const TABS_BY_ROLE = {
  operator: ["desk", "callbacks", "orders", "stats", "visit"],
  supervisor: ["stats", "orders", "callbacks", "desk", "visit"],
  admin: ["stats", "orders", "callbacks", "desk", "visit", "admin"],
  org_admin: ["mine", "league", "visit", "admin"], // the admin view shows them their organisation's providers only
  worker: ["mine", "visit"],
};

const $ = (id) => document.getElementById(id);

let app = null; // the signed-in session (user, catalogue, views, event stream)

// --- routing ------------------------------------------------------------------------------------

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { view: path || "", params: Object.fromEntries(new URLSearchParams(query)) };
}

/** Navigate to a view with parameters (empty values dropped). */
function go(view, params = {}) {
  const qs = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "" && v !== false),
  );
  const text = qs.toString();
  const hash = `#/${view}${text ? `?${text}` : ""}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function route() {
  if (!app) return;
  const { view, params } = parseHash();
  const name = app.tabs.includes(view) ? view : app.tabs[0];
  for (const [key, instance] of Object.entries(app.views)) instance.el.hidden = key !== name;
  for (const tab of $("tabs").children) tab.setAttribute("aria-current", tab.dataset.view === name ? "page" : "false");
  if (!app.views[name]) {
    app.views[name] = VIEWS[name].module.create(app);
    $("views").append(app.views[name].el);
  }
  app.views[name].el.hidden = false;
  app.current = name;
  document.body.append($("toasts")); // where toasts float; the phone screens take them into their flow
  app.views[name].show(params);
}

// --- shared lookups ---------------------------------------------------------------------------

async function loadCatalogue() {
  try {
    const data = await api("/api/v1/catalogue");
    return {
      items: new Map(data.items.map((i) => [i.code, i])),
      categories: new Map(data.categories.map((c) => [c.code, c])),
    };
  } catch {
    return { items: new Map(), categories: new Map() }; // codes are shown instead of names
  }
}

const providerCache = new Map();

/** A provider's name (admins, supervisors, operators and org admins may read providers). */
function providerName(id) {
  if (id === null || id === undefined) return Promise.resolve(null);
  if (!["admin", "supervisor", "operator", "org_admin"].includes(app.user.role)) return Promise.resolve(`#${id}`);
  if (!providerCache.has(id)) {
    providerCache.set(
      id,
      api(`/api/v1/providers/${id}`)
        .then((p) => p.name)
        .catch(() => `#${id}`),
    );
  }
  return providerCache.get(id);
}

// --- the live stream ----------------------------------------------------------------------------

const LIVE_STATES = { open: ["在线", "ok"], reconnecting: ["重连中…", "warn"], down: ["已断开，重试中", "bad"] };

function startEvents() {
  const listeners = new Map();
  app.on = (name, fn) => {
    if (!listeners.has(name)) listeners.set(name, []);
    listeners.get(name).push(fn);
  };
  app.on("notification", (n) => {
    toast(n.body || "新通知", { kind: "warn", ms: 12000 });
  });
  app.on("screen_pop", (pop) => {
    if (app.tabs.includes("desk") && app.current !== "desk") go("desk");
    if (document.hidden) document.title = `【来电】${pop.call?.caller || ""} · 三社联动`;
  });
  app.events = connectEvents({
    onEvent: (name, data) => {
      for (const fn of listeners.get(name) || []) {
        try {
          fn(data);
        } catch (err) {
          console.error(err);
        }
      }
    },
    onState: (state) => {
      app.liveState = state;
      for (const fn of listeners.get("live") || []) fn(state);
      const [text, kind] = LIVE_STATES[state];
      const el = $("live");
      el.hidden = false;
      el.className = `live ${kind}`;
      el.textContent = text;
    },
  });
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) document.title = "三社联动 · 服务调度台";
});

// --- sign-in and sign-out -------------------------------------------------------------------------

function showSignIn(message) {
  if (app) {
    app.events?.close();
    for (const timer of app.timers) clearInterval(timer);
    app.lifetime.abort(); // the listeners the views added to window and document
    app = null;
  }
  providerCache.clear();
  $("shell").hidden = true;
  document.body.append($("toasts")); // out of a phone screen before the views go
  clear($("views"));
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("signin-form").elements.password.value = "";
  $("signin-form").elements.username.focus();
}

async function start() {
  let user;
  try {
    user = await api("/api/v1/me");
  } catch (err) {
    showSignIn(err.status === 401 ? "" : errorText(err));
    return;
  }
  const tabs = TABS_BY_ROLE[user.role] || [];
  // forgetProvider: a provider was renamed (管理), so its cached name is stale.
  app = {
    user,
    tabs,
    views: {},
    go,
    providerName,
    forgetProvider: (id) => providerCache.delete(id),
    current: null,
    timers: [],
    /** Aborted at sign-out: window and document listeners are added with its signal. */
    lifetime: new AbortController(),
    /** Back to sign-in with a message: the session is over (e.g. you changed your own password). */
    signOut(message) {
      auth.token = null;
      showSignIn(message);
    },
    /** every(ms, fn): a timer that stops at sign-out. */
    every(ms, fn) {
      this.timers.push(setInterval(fn, ms));
    },
  };
  app.catalogue = await loadCatalogue();
  app.itemName = (code) => app.catalogue.items.get(code)?.name_zh || code;
  /** "水电维修 · 家政维修": the item and its category, or the code when the catalogue lacks it. */
  app.itemLabel = (code) => {
    const item = app.catalogue.items.get(code);
    if (!item) return code;
    return `${item.name_zh} · ${app.catalogue.categories.get(item.category_code)?.name_zh || item.category_code}`;
  };

  clear(
    $("me"),
    h("strong", user.display_name || user.username),
    h("span.role", { title: user.role }, ROLE_LABELS[user.role] || user.role),
    user.extension ? h("span.muted", { title: "extension" }, `分机 ${user.extension}`) : null,
  );
  clear(
    $("tabs"),
    tabs.map((name) =>
      h(
        "a.tab",
        { href: `#/${name}`, title: VIEWS[name].en, dataset: { view: name } },
        h("span.tab-label", VIEWS[name].label),
        name === "callbacks" ? h("span.tab-count", { title: "待回拨", hidden: true }) : null,
      ),
    ),
  );
  $("signin").hidden = true;
  $("shell").hidden = false;
  startEvents();
  watchCoverage(app, $("coverage"));
  if (tabs.includes("callbacks")) {
    app.counts = worklistCounts(app);
    app.counts.subscribe(({ callbacks: waiting }) => {
      const badge = $("tabs").querySelector(".tab-count");
      if (!badge) return;
      badge.hidden = !waiting;
      badge.textContent = waiting ? String(waiting) : "";
      badge.title = `待回拨 ${waiting ?? 0} 个`;
    });
  }
  /** Take an order for a caller elsewhere (回拨 › 生成工单): the desk opens with the form. */
  app.startOrder = (prefill) => {
    app.pendingOrder = prefill;
    go("desk");
  };
  route();
}

$("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  $("signin-error").hidden = true;
  try {
    await signIn(form.elements.username.value.trim(), form.elements.password.value);
    await start();
  } catch (err) {
    $("signin-error").hidden = false;
    $("signin-error").textContent =
      err.zh || (err.code === "invalid_credentials" ? "用户名或密码错误" : errorText(err));
  } finally {
    button.disabled = false;
  }
});

$("signout").addEventListener("click", () => {
  auth.token = null;
  history.replaceState(null, "", location.pathname);
  showSignIn("");
});

let expiredShown = false;
onUnauthorized(() => {
  if (!app || expiredShown) return;
  expiredShown = true;
  setTimeout(() => (expiredShown = false), 1000);
  showSignIn("登录已过期，请重新登录");
});

window.addEventListener("hashchange", route);

if (auth.token) start();
else showSignIn("");
