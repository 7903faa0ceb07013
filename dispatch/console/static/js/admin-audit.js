// 管理 › 访问记录 (admins only): the access trail of residents' personal data — who read whose
// data, when, what and why (GET /api/v1/audit), filtered by resident, account, order, kind and
// period, newest first, and the same as CSV (GET /api/v1/audit/export.csv, fetched with the
// session's token in its header, never in a URL). Read only: nothing here changes a record.

import { api } from "./api.js";
import { ROLE_LABELS, clear, errorLine, h, localMidnight, orderNumber, saveDownload, timeEl, ymd } from "./ui.js";
import { changed, onFilter, select } from "./admin-kit.js";
import { pagedTable } from "./paged-table.js";

// The server's kinds of record (dispatch/audit/service.py, ACCESS_ZH).
export const ACCESS_LABELS = {
  profile: "查看居民档案",
  resident_search: "查询居民",
  screen_pop: "来电弹屏",
  phone_reveal: "查看号码",
  order_detail: "查看工单详情",
  callback: "回拨工作单",
  export: "导出",
};

const FILTERS = ["resident", "user", "order", "action", "from", "to"];

function nextDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return ymd(new Date(y, m - 1, d + 1));
}

export function auditSection(app, go) {
  let params = {};
  let loaded = false;
  let orderId = null; // the order number of the filter, resolved to its id
  const error = h("div");

  const inputs = {
    resident: h("input", { type: "number", name: "resident", min: 1, step: 1, size: 6, placeholder: "居民编号" }),
    user: select("user", [["", "全部账号"]]),
    order: h("input", { name: "order", maxLength: 20, size: 14, placeholder: "工单号", autocomplete: "off" }),
    action: select("action", [["", "全部类型"], ...Object.entries(ACCESS_LABELS)]),
    from: h("input", { type: "date", name: "from", "aria-label": "开始日期" }),
    to: h("input", { type: "date", name: "to", "aria-label": "结束日期（含）" }),
  };
  const exportBox = h("span.export-link");
  const exportButton = h(
    "button",
    { type: "button", title: "GET /api/v1/audit/export.csv", onclick: () => exportCsv() },
    "导出 CSV",
  );
  const form = h(
    "form.filters.audit-filters",
    h("label", "居民", inputs.resident),
    h("label", "账号", inputs.user),
    h("label", "工单", inputs.order),
    h("label", "类型", inputs.action),
    h("label", "从", inputs.from),
    h("label", "至", inputs.to),
    h("button.ghost", { type: "button", onclick: () => go({}) }, "清除筛选"),
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
    exportButton,
    exportBox,
  );
  const apply = () =>
    go({
      resident: inputs.resident.value.trim(),
      user: inputs.user.value,
      order: inputs.order.value.trim(),
      action: inputs.action.value,
      from: inputs.from.value,
      to: inputs.to.value,
    });
  onFilter(form, apply);

  /** The API's filters from the URL's: ids, and the period as local days (to inclusive). */
  function query() {
    return {
      resident_id: params.resident,
      user_id: params.user,
      order_id: orderId,
      action: params.action,
      from: params.from ? localMidnight(params.from) : "",
      to: params.to ? localMidnight(nextDay(params.to)) : "",
    };
  }

  const filterBy = (next) => (e) => {
    e.preventDefault();
    e.stopPropagation();
    go({ ...params, offset: "", ...next });
  };

  const list = pagedTable({
    path: "/api/v1/audit",
    columns: ["时间", "账号", "类型", "居民", "工单", "原因", "说明"],
    query,
    cells: (r) => [
      h("td.nowrap", timeEl(r.at)),
      h(
        "td.nowrap",
        r.user_id
          ? h("a", { href: "#", title: "只看此账号", onclick: filterBy({ user: r.user_id }) }, r.username)
          : r.username,
        " ",
        h("span.muted.small", ROLE_LABELS[r.role] || r.role),
      ),
      h("td.nowrap", h("span.badge", { title: r.action }, r.action_zh || ACCESS_LABELS[r.action] || r.action)),
      h(
        "td.nowrap",
        r.resident_id
          ? h(
              "a",
              { href: "#", title: "只看此居民", onclick: filterBy({ resident: r.resident_id }) },
              `${r.resident_name || "（未留姓名）"} #${r.resident_id}`,
            )
          : h("span.muted", "—"),
      ),
      h(
        "td.nowrap",
        r.order_number
          ? h("a", { href: "#", title: "只看此工单", onclick: filterBy({ order: r.order_number }) }, orderNumber(r.order_number))
          : h("span.muted", "—"),
      ),
      h("td.reason", r.reason || h("span.muted", "—")),
      h("td.detail", r.detail || ""),
    ],
    onPage: (offset) => go({ ...params, offset }),
    emptyText: "没有符合条件的访问记录",
    className: ".audit-table",
  });

  const el = h(
    "section.card.audit",
    h("h2", { title: "GET /api/v1/audit" }, "访问记录"),
    h(
      "p.muted.small",
      "每次查看居民个人信息（档案、查询、来电弹屏、查看号码、工单详情、回拨工作单、导出）都记一条；同一账号 10 分钟内重复查看同一内容只记一次。记录只增不改。",
    ),
    form,
    error,
    list.el,
  );

  async function fillUsers() {
    try {
      const { items } = await api("/api/v1/users", { query: { limit: 500 } });
      const current = inputs.user.value || params.user || "";
      clear(
        inputs.user,
        h("option", { value: "" }, "全部账号"),
        items.map((u) =>
          h("option", { value: String(u.id) }, `${u.username}${u.display_name ? `（${u.display_name}）` : ""}`),
        ),
      );
      inputs.user.value = current;
    } catch (err) {
      clear(error, errorLine(err));
    }
  }

  /** The order number typed, as the id the API filters by (an exact match only). */
  async function resolveOrder() {
    orderId = null;
    const wanted = (params.order || "").replace(/-/g, "");
    if (!wanted) return true;
    const { items } = await api("/api/v1/orders", { query: { number: params.order, limit: 20 } });
    const found = items.find((o) => o.number.replace(/-/g, "") === wanted);
    if (!found) {
      clear(error, errorLine({ zh: `未找到工单 ${params.order}` }));
      return false;
    }
    orderId = found.id;
    return true;
  }

  async function load() {
    clear(error);
    try {
      if (!(await resolveOrder())) return;
    } catch (err) {
      clear(error, errorLine(err));
      return;
    }
    await list.load(params.offset);
  }

  async function exportCsv() {
    exportButton.disabled = true;
    clear(exportBox, h("span.muted.small", "生成中…"));
    try {
      if (!(await resolveOrder())) return clear(exportBox);
      const response = await api("/api/v1/audit/export.csv", { query: query(), raw: true });
      await saveDownload(response, exportBox, "sanshe-access.csv");
    } catch (err) {
      clear(exportBox, errorLine(err));
    } finally {
      exportButton.disabled = false;
    }
  }

  return {
    el,
    show(next) {
      const listChanged = !loaded || changed([...FILTERS, "offset"], next, params);
      if (!loaded) fillUsers();
      loaded = true;
      params = next;
      for (const key of FILTERS) inputs[key].value = params[key] || "";
      if (listChanged) load();
    },
  };
}
