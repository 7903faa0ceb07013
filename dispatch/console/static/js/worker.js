// 我的工单 (workers and organisation admins): the worker's phone app. The orders offered to or
// held by them as cards made for a 390 px screen — who, where (with navigation), what to mind at
// the door — and the actions of worker-actions.js. New offers arrive over the event stream with
// a vibration, a beep and a count on the icon; actions taken without a connection wait in the
// outbox (outbox.js) and go in order when it returns. The connection bar (field.js) is always on
// screen.

import { api } from "./api.js";
import { badge, prepareSound, ring } from "./alerts.js";
import { capabilities, checkOutPath } from "./capabilities.js";
import { fieldKit } from "./field.js";
import { navLinks } from "./nav.js";
import { installable } from "./pwa.js";
import { orderPhone } from "./reveal.js";
import { position, predicted, verbLabel, workerActions } from "./worker-actions.js";
import { clear, coalesce, deadlineEl, empty, errorLine, errorText, h, orderBadges, stars, tagChips, timeEl } from "./ui.js";

const TODO = ["offered", "accepted", "in_service"];
const DONE = ["completed", "closed"];
const REFRESH_MS = 60000;

const PATHS = {
  accept: (id) => `/api/v1/orders/${id}/accept`,
  decline: (id) => `/api/v1/orders/${id}/decline`,
  "check-in": (id) => `/api/v1/orders/${id}/check-in`,
  complete: (id) => `/api/v1/orders/${id}/complete`,
  "check-out": checkOutPath,
};

// A card keeps its place whatever happens to the order (签收, 签到): the nearest deadline first,
// then the older order. Offers stand out by their colour, not by moving.
/** 距此 350 米 / 距此 2.4 公里, or nothing when the distance is not known. */
function distanceEl(metres) {
  if (metres === null || metres === undefined) return null;
  const text = metres < 1000 ? `${Math.round(metres)} 米` : `${(metres / 1000).toFixed(1)} 公里`;
  return h("div.job-distance", `距此 ${text}`);
}

const byDeadline = (a, b) => (a.complete_by || "").localeCompare(b.complete_by || "") || a.id - b.id;

export function create(app) {
  // Learnt while the connection is there, so a completion started offline still offers photos
  // and the signature pad.
  capabilities();
  installable();
  prepareSound();
  let tab = "todo";
  let orders = []; // as the server last answered
  const seenOffers = new Set();
  let firstLoad = true;
  const notes = new Map(); // order id → the last word on it (check-in distance, …), kept across refreshes
  const full = new Map(); // order id → its detail (the whole number), once opened
  const cards = new Map(); // order id → {sig, el}
  const visits = new Map(); // order id → {n, distance_m}: today's itinerary (GET /api/v1/me/jobs)

  const { outbox, bar } = fieldKit(app);
  const { signal } = app.lifetime;
  const tabs = h("div.segmented", { role: "tablist" });
  const list = h("div.cards");
  const error = h("div");
  const el = h(
    "section.view.mine.phone-app",
    h("div.mine-head", tabs, h("button.ghost", { type: "button", onclick: () => load() }, "刷新")),
    error,
    list,
  );

  // --- what waits to send: the card says so, and goes on as if it had been sent ---------------
  outbox.on("change", () => render());
  outbox.on("sent", () => load());
  outbox.on("dropped", () => load());
  window.addEventListener("online", () => load(), { signal });

  // --- the list -----------------------------------------------------------------------------------
  function renderTabs(counts = {}) {
    clear(
      tabs,
      [
        ["todo", "待处理"],
        ["done", "已办结"],
      ].map(([key, label]) =>
        h(
          "button",
          { type: "button", role: "tab", "aria-selected": String(tab === key), onclick: () => ((tab = key), renderTabs(counts), load()) },
          label,
          counts[key] !== undefined ? h("span.count", String(counts[key])) : null,
        ),
      ),
    );
  }

  async function fetchStatuses(statuses, limit) {
    const pages = await Promise.all(statuses.map((status) => api("/api/v1/orders", { query: { status, limit } })));
    return { items: pages.flatMap((p) => p.items), total: pages.reduce((n, p) => n + p.total, 0) };
  }

  // Today's itinerary in visit order (by the day due, then the distance from here), from the
  // server when it has it; without a position it is the day due alone, and without the server's
  // itinerary the cards keep the deadline order.
  async function itinerary() {
    if (!(await capabilities()).jobs) return;
    const here = await Promise.race([position(), new Promise((r) => setTimeout(r, 3000))]).catch(() => null);
    const query = here ? { lat: here.lat, lng: here.lon } : {};
    const jobs = await api("/api/v1/me/jobs", { query });
    visits.clear();
    jobs.items.forEach((j, n) => visits.set(j.order_id, { n, distance_m: j.distance_m }));
  }

  async function load() {
    if (!navigator.onLine) return;
    try {
      const todo = await fetchStatuses(TODO, 100);
      let doneTotal;
      if (tab === "done") {
        const done = await fetchStatuses(DONE, 20);
        orders = done.items.sort((a, b) => (b.completed_at || "").localeCompare(a.completed_at || "")).slice(0, 20);
        doneTotal = done.total;
      } else {
        await itinerary();
        const at = (o) => visits.get(o.id)?.n ?? Infinity;
        orders = todo.items.sort((a, b) => at(a) - at(b) || byDeadline(a, b));
      }
      clear(error);
      renderTabs({ todo: todo.total, done: doneTotal });
      const offers = todo.items.filter((o) => o.status === "offered").map((o) => o.id);
      if (!firstLoad && offers.some((id) => !seenOffers.has(id))) ring();
      for (const id of offers) seenOffers.add(id);
      firstLoad = false;
      badge(offers.length);
      render();
    } catch (err) {
      if (err.status !== 0) clear(error, errorLine(err));
    }
  }

  // Cards are kept and updated in place: one with a form open (a completion being written) is left
  // alone, and only cards out of place are moved, so a new offer never takes the focus away.
  function render() {
    const shown = [];
    for (const o of orders) {
      const waiting = outbox.items.filter((i) => i.verb && i.orderId === o.id);
      const now = predicted({ ...o, ...full.get(o.id) }, waiting);
      // Shown until the server has it done: an order completed offline stays, saying what waits.
      if (tab === "todo" && !TODO.includes(o.status)) continue;
      const sig = JSON.stringify([now, waiting.map((i) => i.key), notes.get(o.id), visits.get(o.id)?.distance_m]);
      let entry = cards.get(o.id);
      const busy = entry?.el.querySelector(".action-slot form");
      if (!entry || (entry.sig !== sig && !busy)) {
        const el = card(now, waiting);
        entry?.el.replaceWith(el);
        entry = { sig, el };
        cards.set(o.id, entry);
      }
      shown.push(entry.el);
    }
    for (const [id, entry] of cards) {
      if (!shown.includes(entry.el)) {
        entry.el.remove();
        cards.delete(id);
      }
    }
    list.querySelector(":scope > .empty")?.remove();
    shown.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    if (!shown.length) list.append(empty(tab === "todo" ? "暂无待处理工单" : "暂无已办结工单"));
  }

  async function take(o, verb, body, extra = {}) {
    const out = await outbox.take({ orderId: o.id, number: o.number, verb, label: verbLabel(verb), path: PATHS[verb](o.id), body, ...extra });
    if (out.sent) {
      const r = out.sent;
      notes.set(
        o.id,
        verb === "check-in" && r.checkin_distance_m != null
          ? `已到场签到：距工单地址 ${Math.round(r.checkin_distance_m)} 米${r.checkin_far ? "，距离较远已标记" : ""}`
          : `${verbLabel(verb)}成功`,
      );
      load();
    } else {
      notes.set(o.id, `无网络：“${verbLabel(verb)}”已保存，联网后自动发送`);
      render();
    }
  }

  function card(o, waiting) {
    const item = app.catalogue.items.get(o.item_code);
    const holderId = app.user.role === "org_admin" ? (o.worker_id ?? o.provider_id) : null;
    const holder = holderId != null ? h("span", `#${holderId}`) : null;
    if (holder) app.providerName(holderId).then((name) => (holder.textContent = name));
    const showDetail = async () => {
      try {
        full.set(o.id, await api(`/api/v1/orders/${o.id}`));
        render();
      } catch (err) {
        notes.set(o.id, errorText(err));
        render();
      }
    };
    const note = notes.get(o.id);
    return h(
      `article.card.job.status-card-${o.status}`,
      { dataset: { id: String(o.id) } },
      h("div.job-head", h("strong", item?.name_zh || o.item_code), orderBadges(o)),
      o.resident ? h("div.job-resident", h("span.resident-name", o.resident.name || "（未留姓名）"), " ", tagChips(o.resident.tags)) : null,
      h("div.job-phone", "电话 ", orderPhone(o, { showDetail })),
      h("div.job-address", o.address || "（无地址）"),
      distanceEl(visits.get(o.id)?.distance_m),
      navLinks(o),
      item?.notice || o.safety_notice ? h("div.safety", h("strong", "安全提示 "), o.safety_notice || item.notice) : null,
      o.description ? h("p.job-desc", h("strong", "备注 "), o.description) : null,
      h(
        "dl.facts.compact",
        h("dt", "工单号"),
        h("dd", o.number),
        holder ? [h("dt", "承接方"), h("dd", holder)] : null,
        o.status === "offered" ? [h("dt", "签收时限"), h("dd", deadlineEl(o.sign_by))] : null,
        h("dt", "办结时限"),
        h("dd", deadlineEl(o.complete_by, { open: TODO.includes(o.status) })),
        o.completed_at ? [h("dt", "办结时间"), h("dd", timeEl(o.completed_at))] : null,
        o.rating_stars ? [h("dt", "评价"), h("dd", stars(o.rating_stars))] : null,
      ),
      waiting.length ? h("p.waiting-note", `待发送：${waiting.map((i) => i.label).join("、")}`) : null,
      note ? h("p.job-status", { role: "status" }, note) : null,
      workerActions(o, (verb, body, extra) => take(o, verb, body, extra)),
    );
  }

  // News of one of their orders (a new offer above all) refreshes at once, cards in place.
  const news = coalesce(() => !document.hidden && load(), { wait: 150, maxWait: 1000 });
  app.on("notification", news);
  app.on("order", news);
  app.every(REFRESH_MS, () => !document.hidden && load());
  document.addEventListener("visibilitychange", () => !document.hidden && load(), { signal });

  renderTabs();
  return {
    el,
    show() {
      bar.place(el);
      outbox.flush();
      load();
    },
  };
}
