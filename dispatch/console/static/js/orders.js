// 工单 (orders): the filtered, paged list and, beside it, one order's detail (order-detail.js).
// Filters, page and the open order live in the URL (#/orders?status=offered&open=12).
// Both follow the live `order` events of every user: the list reloads its page (keeping scroll,
// selection and focus), the detail reloads, unless an action form is open in it, when it says
// who changed the order and waits for 重新加载.

import { api } from "./api.js";
import { pagedTable } from "./paged-table.js";
import { EVENT_LABELS, orderDetail } from "./order-detail.js";
import { orderPhone } from "./reveal.js";
import {
  OPEN_STATUSES,
  STATUS_LABELS,
  actorLabel,
  clear,
  coalesce,
  deadlineEl,
  empty,
  errorLine,
  h,
  orderBadges,
  orderNumber,
  timeEl,
} from "./ui.js";

const PAGE = 25;
// The filters a dashboard click adds (GET /api/v1/orders takes them as they are).
const SCOPE = ["from", "to", "category", "item_code", "community_id", "provider_id"];

// The worklists an order may wait in (GET /api/v1/orders?queue=…).
export const QUEUE_LABELS = { dispatch: "待派单", supervisor: "督办派单", callback: "待回访" };

export function create(app) {
  let params = {};
  let loaded = false;
  let changedBy = null; // the last live event of the open order not yet shown in its detail

  const filters = {
    status: h(
      "select",
      { name: "status" },
      h("option", { value: "" }, "全部状态"),
      Object.entries(STATUS_LABELS).map(([v, t]) => h("option", { value: v }, t)),
    ),
    supervision: h(
      "select",
      { name: "supervision", title: "supervision level" },
      h("option", { value: "" }, "督办：全部"),
      h("option", { value: "yellow" }, "黄牌"),
      h("option", { value: "red" }, "红牌"),
    ),
    overdue: h("input", { type: "checkbox", name: "overdue" }),
    queue: h(
      "select",
      { name: "queue", title: "queue: the worklist an order waits in" },
      h("option", { value: "" }, "队列：全部"),
      Object.entries(QUEUE_LABELS).map(([v, t]) => h("option", { value: v }, t)),
    ),
    live: h("input", { type: "checkbox", name: "live" }),
    number: h("input", {
      type: "search",
      name: "number",
      placeholder: "工单号或尾号",
      title: "完整工单号（如 20261123-0042）或工单号后几位（如 0042）",
      pattern: "(\\d{8}-?)?\\d{1,6}",
      size: 14,
    }),
  };
  const filterForm = h(
    "form.filters",
    filters.number,
    filters.status,
    filters.supervision,
    h("label.check", { title: "open=true: still being worked on (received to in service)" }, filters.live, "在办"),
    filters.queue,
    h("label.check", { title: "overdue" }, filters.overdue, "超时"),
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
  );
  // Filters a dashboard chart opened the list with (a period, a category, a community, a
  // provider): shown as chips above the list, each removable.
  const scopeBox = h("div.scope-chips");
  function scopeChips() {
    const day = (iso) => new Date(iso).toLocaleDateString("zh-CN");
    const dayBefore = (iso) => day(new Date(new Date(iso).getTime() - 1).toISOString());
    const chips = [];
    if (params.from || params.to)
      chips.push([["from", "to"], `受理 ${params.from ? day(params.from) : "…"} 至 ${params.to ? dayBefore(params.to) : "…"}`]);
    if (params.category)
      chips.push([["category"], `类别：${app.catalogue.categories.get(params.category)?.name_zh || params.category}`]);
    if (params.item_code) chips.push([["item_code"], `事项：${app.itemName(params.item_code)}`]);
    if (params.community_id) chips.push([["community_id"], `社区：${communityName(params.community_id)}`]);
    if (params.provider_id) chips.push([["provider_id"], `服务方 #${params.provider_id}`]);
    clear(
      scopeBox,
      chips.map(([keys, text]) =>
        h(
          "span.chip.scope",
          { dataset: { scope: keys.join(",") } },
          text,
          h(
            "button.ghost.small",
            {
              type: "button",
              title: "去掉这个条件",
              "aria-label": `去掉条件：${text}`,
              onclick: () => app.go("orders", { ...params, ...Object.fromEntries(keys.map((k) => [k, ""])), offset: "" }),
            },
            "×",
          ),
        ),
      ),
    );
    if (params.provider_id)
      app.providerName(Number(params.provider_id)).then((name) => {
        const chip = scopeBox.querySelector('[data-scope="provider_id"]');
        if (chip && name) chip.firstChild.textContent = `服务方：${name}`;
      });
  }
  const communities = new Map();
  function communityName(id) {
    if (!communities.size)
      api("/api/v1/areas", { query: { kind: "community" } })
        .then((r) => {
          for (const a of r.items) communities.set(String(a.id), a.name);
          scopeChips();
        })
        .catch(() => communities.set("", ""));
    return communities.get(String(id)) || `#${id}`;
  }

  function applyFilters() {
    if (!filters.number.checkValidity()) return filters.number.reportValidity();
    app.go("orders", {
      ...Object.fromEntries(SCOPE.map((k) => [k, params[k]])),
      number: filters.number.value.trim(),
      status: filters.status.value,
      supervision: filters.supervision.value,
      live: filters.live.checked ? "true" : "",
      overdue: filters.overdue.checked ? "true" : "",
      queue: filters.queue.value,
      open: params.open,
    });
  }
  filterForm.addEventListener("change", applyFilters);
  filterForm.addEventListener("submit", (e) => {
    e.preventDefault();
    applyFilters();
  });

  // --- list ---------------------------------------------------------------------------------------
  const list = pagedTable({
    path: "/api/v1/orders",
    columns: ["工单号", "状态", "服务事项", "诉求", "来电", "地址", "受理", "办结时限"],
    query: () => ({
      number: params.number,
      open: params.live,
      status: params.status,
      supervision: params.supervision,
      overdue: params.overdue,
      queue: params.queue,
      ...Object.fromEntries(SCOPE.map((k) => [k, params[k]])),
    }),
    cells: (o) => [
      h("td.nowrap", h("a", { href: "#", onclick: (e) => e.preventDefault() }, orderNumber(o.number))),
      h("td.badges", orderBadges(o)),
      h("td", app.itemName(o.item_code)),
      h("td.desc", { title: o.description }, o.description),
      h("td.nowrap.phone-cell", orderPhone(o)),
      h("td.addr", { title: o.address }, o.address || "—"),
      h("td.nowrap", timeEl(o.created_at)),
      h("td.nowrap", deadlineEl(o.complete_by, { open: OPEN_STATUSES.includes(o.status) })),
    ],
    open: (o) => app.go("orders", { ...params, open: o.id }),
    onPage: (offset) => app.go("orders", { ...params, offset }),
    pageSize: PAGE,
    emptyText: "没有符合条件的工单",
    className: ".orders-table",
  });
  const load = () => list.load(params.offset);
  const listPane = h("section.card.list-pane", filterForm, scopeBox, list.el);
  const detailPane = h("section.card.detail-pane");
  const el = h("section.view.orders", listPane, detailPane);

  // --- detail -------------------------------------------------------------------------------------
  /** quiet: a reload of the order shown (after a live event), in place, at the same scroll. */
  async function loadDetail(id, { quiet = false } = {}) {
    el.classList.toggle("has-detail", Boolean(id));
    if (!id) return clear(detailPane, empty("选择左侧工单查看详情、时间线和可执行的操作。"));
    if (!quiet) clear(detailPane, h("p.muted", "加载中…"));
    changedBy = null;
    const scroll = detailPane.scrollTop;
    try {
      const o = await api(`/api/v1/orders/${id}`);
      if (String(o.id) !== params.open) return; // another order was opened meanwhile
      const onChanged = () => {
        loadDetail(o.id, { quiet: true });
        load();
      };
      clear(detailPane, orderDetail(app, o, { closeButton: closeButton(), onChanged }));
      if (quiet) detailPane.scrollTop = scroll;
    } catch (err) {
      clear(detailPane, closeButton(), errorLine(err));
    }
  }

  // --- live: every change of an order by anyone ---------------------------------------------------
  // A hidden tab skips them: show() reloads when it comes back.
  const refreshList = coalesce(() => !el.hidden && list.refresh(), { wait: 500, maxWait: 5000 });
  const refreshDetail = coalesce(() => {
    if (el.hidden || !params.open) return;
    // Someone typing a reason or a note under the order keeps it: they are told, and reload.
    if (detailPane.querySelector(".action-slot:not(:empty)") && changedBy) return showChangedBanner(changedBy);
    loadDetail(params.open, { quiet: true });
  });

  function showChangedBanner(ev) {
    const who = ev.actor === `${app.user.role}:${app.user.username}` ? "您（在别处）" : actorLabel(ev.actor);
    const what = EVENT_LABELS[ev.action] ? `：${EVENT_LABELS[ev.action]}` : "";
    const banner = h(
      "div.changed",
      { role: "status" },
      h("span", `该工单已被${who}更新${what}`),
      h(
        "button.primary.small",
        { type: "button", onclick: () => loadDetail(params.open, { quiet: true }) },
        "重新加载",
      ),
    );
    detailPane.querySelector(".changed")?.remove();
    detailPane.querySelector(".detail")?.prepend(banner);
  }

  app.on("order", (ev) => {
    refreshList();
    if (params.open && String(ev.id) === String(params.open)) {
      changedBy = ev;
      refreshDetail();
    }
  });

  function closeButton() {
    return h(
      "button.ghost.small.close",
      { type: "button", title: "关闭 (Esc)", onclick: () => app.go("orders", { ...params, open: "" }) },
      "← 返回列表",
    );
  }

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !el.hidden && params.open && !e.target.closest("form"))
      app.go("orders", { ...params, open: "" });
  });

  return {
    el,
    show(next) {
      const first = !loaded;
      const listChanged =
        first ||
        ["number", "status", "supervision", "live", "overdue", "queue", "offset", ...SCOPE].some(
          (k) => (next[k] || "") !== (params[k] || ""),
        );
      const detailChanged = first || (next.open || "") !== (params.open || "");
      loaded = true;
      params = next;
      filters.status.value = params.status || "";
      filters.supervision.value = params.supervision || "";
      filters.number.value = params.number || "";
      filters.live.checked = params.live === "true";
      filters.overdue.checked = params.overdue === "true";
      filters.queue.value = Object.hasOwn(QUEUE_LABELS, params.queue || "") ? params.queue : "";
      scopeChips();
      list.select(params.open);
      if (listChanged) load();
      if (detailChanged) loadDetail(params.open);
      if (!listChanged && !detailChanged) {
        // Coming back to the tab: refresh what may have changed meanwhile.
        list.refresh();
        if (params.open) loadDetail(params.open, { quiet: true });
      }
    },
  };
}
