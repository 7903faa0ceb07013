// 定期探访 (care visit plans), under 督办: the coverage of a month (planned, done and overdue visits
// by community and by visitor, and the residents not visited within their interval), and the
// plans — supervisors and admins create and pause them; operators read.

import { api } from "./api.js";
import { pagedTable } from "./paged-table.js";
import { searchPicker } from "./search-picker.js";
import { clear, empty, errorLine, h, tagChips, toast } from "./ui.js";

const FREQUENCIES = [
  ["weekly", "每周"],
  ["biweekly", "每两周"],
  ["monthly", "每月"],
];
const PROVIDER_KINDS = { organisation: "服务机构", worker: "服务人员" };

// The resident of a plan, found by name, address or number (the registry's search, recorded in
// the access trail as every search is); the numbers come masked.
const residentPicker = () =>
  searchPicker({
    label: "居民",
    placeholder: "搜索居民：姓名、地址或电话",
    search: async (text) => {
      const digits = text.replace(/[\s\-()+]/g, "");
      const query = /^\d{5,}$/.test(digits) ? { phone: text } : { q: text, limit: 8 };
      return (await api("/api/v1/residents", { query })).items;
    },
    describe: (r) => [h("strong", r.name), " ", h("span.muted", r.phones[0]?.national || ""), " ", tagChips(r.tags), h("span.muted.small", ` ${r.address}`)],
    none: "没有找到匹配的居民",
  });

// Who visits: a provider (a grid worker, a social worker or an organisation) taking work now.
const visitorPicker = () =>
  searchPicker({
    label: "探访人",
    placeholder: "搜索探访人：服务人员或机构名称",
    search: async (text) => (await api("/api/v1/providers", { query: { q: text, status: "active", limit: 8 } })).items,
    describe: (p) => [h("strong", p.name), h("span.muted.small", ` ${PROVIDER_KINDS[p.kind] || p.kind}`)],
    none: "没有找到匹配的服务方",
  });

const COUNT_COLUMNS = [
  ["planned", "应探访"],
  ["done", "已探访"],
  ["overdue", "逾期未探访"],
  ["pending", "待探访"],
  ["not_home", "未遇次数"],
];

function thisMonth() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

function countsTable(title, rows, total) {
  const head = h("tr", h("th", title), COUNT_COLUMNS.map(([, label]) => h("th", label)));
  const line = (r, cls) => h(`tr${cls}`, h("td", r.name), COUNT_COLUMNS.map(([k]) => h("td.num", String(r[k]))));
  return h(
    "table.visit-coverage",
    h("thead", head),
    h("tbody", rows.map((r) => line(r, ""))),
    total ? h("tfoot", line(total, ".total")) : null,
  );
}

function unvisitedTable(rows) {
  if (!rows.length) return empty("所有居民都在探访周期内得到了探访");
  const label = Object.fromEntries(FREQUENCIES);
  return h(
    "table.visit-unvisited",
    h(
      "thead",
      h("tr", ["居民", "社区", "探访人", "频次", "最近探访", "距今天数"].map((t) => h("th", t))),
    ),
    h(
      "tbody",
      rows.map((u) =>
        h(
          "tr",
          h("td", u.resident_name),
          h("td", u.community),
          h("td", u.visitor),
          h("td", label[u.frequency] || u.frequency),
          h("td", u.last_visit_on || "从未探访"),
          h("td.num", u.days_since === null ? "—" : String(u.days_since)),
        ),
      ),
    ),
  );
}

export function create(app) {
  const manager = ["admin", "supervisor"].includes(app.user.role);

  // --- coverage ---------------------------------------------------------------------------------
  const month = h("input", { type: "month", "aria-label": "统计月份", value: thisMonth(), required: true });
  const coverageBox = h("div.visit-coverage-box");
  const coverageForm = h("form.filters", month, h("button", { type: "submit" }, "查询覆盖情况"));
  coverageForm.addEventListener("submit", (e) => {
    e.preventDefault();
    loadCoverage();
  });

  async function loadCoverage() {
    clear(coverageBox, h("p.muted", "正在统计…"));
    try {
      const c = await api("/api/v1/visit-plans/coverage", { query: { period: month.value || thisMonth() } });
      clear(
        coverageBox,
        h("p.muted", `统计区间 ${c.from} 至 ${c.to}（不含），截至 ${c.as_of}`),
        h("h3", "按社区"),
        countsTable("社区", c.by_community, c.total),
        h("h3", "按探访人"),
        countsTable("探访人", c.by_visitor, null),
        h("h3", "探访周期内未探访的居民"),
        unvisitedTable(c.unvisited),
      );
    } catch (err) {
      clear(coverageBox, errorLine(err));
    }
  }

  // --- plans ------------------------------------------------------------------------------------
  const plans = pagedTable({
    path: "/api/v1/visit-plans",
    columns: ["编号", "居民", "社区", "类型", "频次", "探访人", "开始日期", "状态", manager ? "操作" : null].filter(
      Boolean,
    ),
    cells: (p) => [
      h("td", String(p.id)),
      h("td", p.resident_name),
      h("td", p.community || "—"),
      h("td", p.plan_label),
      h("td", p.frequency_label),
      h("td", p.visitor),
      h("td", p.start_on),
      h("td", p.active ? "进行中" : "已暂停"),
      manager ? h("td", pauseButton(p)) : null,
    ],
    pageSize: 20,
    emptyText: "还没有探访计划",
    className: ".visit-plans-table",
  });

  function pauseButton(p) {
    const button = h("button", { type: "button" }, p.active ? "暂停" : "恢复");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(`/api/v1/visit-plans/${p.id}`, { method: "PATCH", body: { active: !p.active } });
        toast(p.active ? `探访计划 ${p.id} 已暂停` : `探访计划 ${p.id} 已恢复`);
        plans.refresh();
      } catch (err) {
        button.disabled = false;
        toast(errorLine(err).textContent, { kind: "error" });
      }
    });
    return button;
  }

  let planForm = null;
  if (manager) {
    const resident = residentPicker();
    const kind = h("select", { "aria-label": "计划类型" });
    const frequency = h(
      "select",
      { "aria-label": "探访频次" },
      FREQUENCIES.map(([v, t]) => h("option", { value: v }, t)),
    );
    const visitor = visitorPicker();
    const start = h("input", { type: "date", "aria-label": "开始日期" });
    const note = h("input", { type: "text", maxlength: 300, "aria-label": "备注", placeholder: "备注（可不填）" });
    const formError = h("div");
    planForm = h(
      "form.visit-plan-form",
      h("div.picker-field", h("span.label", "居民"), resident.el),
      h("label", "计划类型 ", kind),
      h("label", "频次 ", frequency),
      h("div.picker-field", h("span.label", "探访人"), visitor.el),
      h("label", "开始日期 ", start),
      note,
      h("button", { type: "submit" }, "新建探访计划"),
      formError,
    );
    api("/api/v1/visit-plans/checklists").then(
      (kinds) =>
        kinds.forEach((k) =>
          kind.append(h("option", { value: k.plan_type, title: k.checklist.map((c) => c.text).join("；") }, `${k.label}（${k.tags.join("、")}）`)),
        ),
      (err) => clear(formError, errorLine(err)),
    );
    planForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      clear(formError);
      const [who, by] = [resident.value(), visitor.value()];
      if (!who || !by) {
        clear(formError, h("p.error", { role: "alert" }, !who ? "请先搜索并选择居民" : "请先搜索并选择探访人"));
        return;
      }
      const body = {
        resident_id: who.id,
        plan_type: kind.value,
        frequency: frequency.value,
        provider_id: by.id,
        note: note.value,
      };
      if (start.value) body.start_on = start.value;
      try {
        const p = await api("/api/v1/visit-plans", { method: "POST", body });
        toast(`已为${p.resident_name}新建${p.plan_label}计划（${p.frequency_label}）`);
        planForm.reset();
        resident.reset();
        visitor.reset();
        plans.load(0);
        loadCoverage();
      } catch (err) {
        clear(formError, errorLine(err));
      }
    });
  }

  const el = h(
    "div.visits",
    h("h3", "探访覆盖"),
    coverageForm,
    coverageBox,
    h("h3", "探访计划"),
    planForm,
    plans.el,
  );
  let shown = false;
  return {
    el,
    show() {
      if (!shown) {
        shown = true;
        plans.load(0);
        loadCoverage();
      }
    },
  };
}
