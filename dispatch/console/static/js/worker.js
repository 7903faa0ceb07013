// 我的工单 (workers and organisation admins): the orders offered to or held by them, as cards
// that work on a phone — sign for or return an offer, check in at the door, complete. The list
// shows the resident's number masked; on an order they hold, 查看号码 opens the order's detail,
// which has it whole (and is recorded in the access trail).

import { api } from "./api.js";
import { actionBar } from "./actions.js";
import { orderPhone } from "./reveal.js";
import {
  clear,
  coalesce,
  deadlineEl,
  empty,
  errorLine,
  errorText,
  h,
  orderBadges,
  stars,
  tagChips,
  timeEl,
  toast,
} from "./ui.js";

const TODO = ["offered", "accepted", "in_service"];
const DONE = ["completed", "closed"];
const REFRESH_MS = 60000;

export function create(app) {
  let tab = "todo";
  const tabs = h("div.segmented", { role: "tablist" });
  const list = h("div.cards");
  const error = h("div");
  const el = h(
    "section.view.mine",
    h("div.mine-head", tabs, h("button.ghost.small", { type: "button", onclick: () => load() }, "刷新")),
    error,
    list,
  );

  function renderTabs(counts = {}) {
    clear(
      tabs,
      [
        ["todo", "待处理"],
        ["done", "已办结"],
      ].map(([key, label]) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            "aria-selected": String(tab === key),
            onclick: () => ((tab = key), renderTabs(counts), load()),
          },
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

  async function load() {
    clear(error);
    try {
      const todo = await fetchStatuses(TODO, 100);
      let items = todo.items;
      let doneTotal;
      if (tab === "done") {
        const done = await fetchStatuses(DONE, 20);
        items = done.items.sort((a, b) => (b.completed_at || "").localeCompare(a.completed_at || "")).slice(0, 20);
        doneTotal = done.total;
      } else {
        // Most pressing first: offers waiting for a signature, then the nearest deadline.
        const rank = { offered: 0, accepted: 1, in_service: 2 };
        items.sort(
          (a, b) => rank[a.status] - rank[b.status] || (a.complete_by || "").localeCompare(b.complete_by || ""),
        );
      }
      renderTabs({ todo: todo.total, done: doneTotal });
      clear(list, items.length ? items.map(card) : empty(tab === "todo" ? "暂无待处理工单" : "暂无已办结工单"));
    } catch (err) {
      clear(error, errorLine(err));
    }
  }

  function card(o) {
    const item = app.catalogue.items.get(o.item_code);
    // Organisation admins see which of their workers (or the organisation itself) holds it.
    const holderId = app.user.role === "org_admin" ? (o.worker_id ?? o.provider_id) : null;
    const holder = holderId != null ? h("span", `#${holderId}`) : null;
    if (holder) app.providerName(holderId).then((name) => (holder.textContent = name));
    const onDone = (result, action) => {
      toast(`${o.number} ${action.label}成功`, { kind: "ok" });
      if (action.verb === "check-in" && result.checkin_distance_m != null) {
        const far = result.checkin_far ? "，距离较远已标记" : "";
        toast(`到场签到：距工单地址 ${Math.round(result.checkin_distance_m)} 米${far}`, {
          kind: result.checkin_far ? "warn" : "ok",
          ms: 8000,
        });
      }
      load();
    };
    // The detail: the whole number (and description) of an order they hold, in place of the card.
    const showDetail = async () => {
      try {
        const full = await api(`/api/v1/orders/${o.id}`);
        article.replaceWith(card(full));
      } catch (err) {
        toast(errorText(err), { kind: "error" });
      }
    };
    const article = h(
      "article.card.job",
      { dataset: { id: String(o.id) } },
      h("div.job-head", h("strong", item?.name_zh || o.item_code), orderBadges(o)),
      h("div.job-address", o.address || "（无地址）"),
      o.resident
        ? h("div.job-resident", h("span", o.resident.name || "（未留姓名）"), " ", tagChips(o.resident.tags))
        : null,
      h("p.job-desc", o.description),
      item?.notice ? h("div.safety", h("strong", "安全提示 "), item.notice) : null,
      h(
        "dl.facts.compact",
        h("dt", "工单号"),
        h("dd", o.number),
        holder ? [h("dt", "承接方"), h("dd", holder)] : null,
        h("dt", "联系电话"),
        h("dd", orderPhone(o, { showDetail })),
        o.status === "offered" ? [h("dt", "签收时限"), h("dd", deadlineEl(o.sign_by))] : null,
        h("dt", "办结时限"),
        h("dd", deadlineEl(o.complete_by, { open: TODO.includes(o.status) })),
        o.completed_at ? [h("dt", "办结时间"), h("dd", timeEl(o.completed_at))] : null,
        o.rating_stars ? [h("dt", "评价"), h("dd", stars(o.rating_stars))] : null,
      ),
      actionBar(o, onDone),
    );
    return article;
  }

  // Refresh on news (a notice, a change of one of their orders), but never under a form the user
  // is filling in.
  const idle = () => !el.hidden && !document.hidden && !el.querySelector(".action-slot form, .action-slot .confirm");
  const news = coalesce(() => idle() && load(), { wait: 500, maxWait: 3000 });
  app.on("notification", news);
  app.on("order", news);
  app.every(REFRESH_MS, () => idle() && load());

  renderTabs();
  return {
    el,
    show() {
      load();
    },
  };
}
