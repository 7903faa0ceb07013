// 工单 (orders): the filtered, paged list and, beside it, one order's detail (order-detail.js).
// Filters, page and the open order live in the URL (#/orders?status=offered&open=12).

import { api } from "./api.js";
import { orderDetail } from "./order-detail.js";
import { pagedTable } from "./paged-table.js";
import { OPEN_STATUSES, STATUS_LABELS, clear, deadlineEl, empty, errorLine, h, orderBadges, timeEl } from "./ui.js";

const PAGE = 25;

export function create(app) {
  let params = {};
  let loaded = false;

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
    queue: h("input", { type: "checkbox", name: "queue" }),
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
    h("label.check", { title: "overdue" }, filters.overdue, "超时"),
    h("label.check", { title: "queue=supervisor: waiting for a supervisor to dispatch" }, filters.queue, "待督办派单"),
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
  );
  function applyFilters() {
    if (!filters.number.checkValidity()) return filters.number.reportValidity();
    app.go("orders", {
      number: filters.number.value.trim(),
      status: filters.status.value,
      supervision: filters.supervision.value,
      live: filters.live.checked ? "true" : "",
      overdue: filters.overdue.checked ? "true" : "",
      queue: filters.queue.checked ? "supervisor" : "",
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
    columns: ["工单号", "状态", "服务事项", "诉求", "地址", "受理", "办结时限"],
    query: () => ({
      number: params.number,
      open: params.live,
      status: params.status,
      supervision: params.supervision,
      overdue: params.overdue,
      queue: params.queue,
    }),
    cells: (o) => [
      h("td.nowrap", h("a", { href: "#", onclick: (e) => e.preventDefault() }, o.number)),
      h("td.badges", orderBadges(o)),
      h("td", app.itemName(o.item_code)),
      h("td.desc", { title: o.description }, o.description),
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
  const listPane = h("section.card.list-pane", filterForm, list.el);
  const detailPane = h("section.card.detail-pane");
  const el = h("section.view.orders", listPane, detailPane);

  // --- detail -------------------------------------------------------------------------------------
  async function loadDetail(id) {
    el.classList.toggle("has-detail", Boolean(id));
    if (!id) return clear(detailPane, empty("选择左侧工单查看详情、时间线和可执行的操作。"));
    clear(detailPane, h("p.muted", "加载中…"));
    try {
      const o = await api(`/api/v1/orders/${id}`);
      if (String(o.id) !== params.open) return; // another order was opened meanwhile
      const onChanged = () => {
        loadDetail(o.id);
        load();
      };
      clear(detailPane, orderDetail(app, o, { closeButton: closeButton(), onChanged }));
    } catch (err) {
      clear(detailPane, closeButton(), errorLine(err));
    }
  }

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
        ["number", "status", "supervision", "live", "overdue", "queue", "offset"].some(
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
      filters.queue.checked = params.queue === "supervisor";
      list.select(params.open);
      if (listChanged) load();
      if (detailChanged) loadDetail(params.open);
      if (!listChanged && !detailChanged) {
        // Coming back to the tab: refresh what may have changed meanwhile.
        load();
        if (params.open) loadDetail(params.open);
      }
    },
  };
}
