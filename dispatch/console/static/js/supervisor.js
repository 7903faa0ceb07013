// 督办 (supervision): what needs attention now (yellow/red, overdue, the supervisor queue), the
// KPIs of a period with the CSV export, and the calls of that period. Operators read it all;
// batch dispatch is for supervisors and admins.

import { api, queryString } from "./api.js";
import { GROUP_BY, kpiTables } from "./kpis.js";
import { pagedTable } from "./paged-table.js";
import { DISPOSITION_LABELS, clear, errorLine, h, localMidnight, timeEl, toast, ymd } from "./ui.js";

const CALLS_PAGE = 20;

function periodOf(preset) {
  const today = new Date();
  const day = (y, m, d) => ymd(new Date(y, m, d));
  const y = today.getFullYear();
  const m = today.getMonth();
  const d = today.getDate();
  switch (preset) {
    case "last-month":
      return [day(y, m - 1, 1), day(y, m, 1)];
    case "7d":
      return [day(y, m, d - 6), day(y, m, d + 1)];
    case "today":
      return [day(y, m, d), day(y, m, d + 1)];
    default: // this month
      return [day(y, m, 1), day(y, m + 1, 1)];
  }
}

function addDays(ymdText, n) {
  const [y, m, d] = ymdText.split("-").map(Number);
  return ymd(new Date(y, m - 1, d + n));
}

export function create(app) {
  const supervisor = ["admin", "supervisor"].includes(app.user.role);
  const state = { from: "", to: "", groupBy: "", exportUrl: null };

  // --- controls ---------------------------------------------------------------------------------
  const preset = h(
    "select",
    { "aria-label": "时间段" },
    h("option", { value: "month" }, "本月"),
    h("option", { value: "last-month" }, "上月"),
    h("option", { value: "7d" }, "近 7 天"),
    h("option", { value: "today" }, "今天"),
    h("option", { value: "custom" }, "自定义"),
  );
  const fromInput = h("input", { type: "date", "aria-label": "开始日期", required: true });
  const toInput = h("input", { type: "date", "aria-label": "结束日期（含）", required: true });
  const groupBy = h(
    "select",
    { "aria-label": "分组", title: "group_by" },
    GROUP_BY.map(([v, t]) => h("option", { value: v }, t)),
  );
  const exportButton = h("button", { type: "button", title: "GET /api/v1/stats/export.csv" }, "导出 CSV");
  const exportLink = h("span.export-link");
  const controls = h(
    "form.filters",
    preset,
    fromInput,
    h("span.muted", "至"),
    toInput,
    groupBy,
    h("button.primary", { type: "submit" }, "查询"),
    exportButton,
    exportLink,
  );

  const watch = h("div.watch");
  const batchBox = h("div.batch");
  const kpiBox = h("div.kpis");
  const callsFilters = {
    disposition: h(
      "select",
      { "aria-label": "结果" },
      h("option", { value: "" }, "全部结果"),
      Object.entries(DISPOSITION_LABELS).map(([v, t]) => h("option", { value: v }, t)),
    ),
    operator: h("input", { placeholder: "分机", size: 6, "aria-label": "分机" }),
    caller: h("input", { placeholder: "来电号码", size: 14, inputmode: "tel", "aria-label": "来电号码" }),
  };
  const callsForm = h(
    "form.filters",
    callsFilters.disposition,
    callsFilters.operator,
    callsFilters.caller,
    h("button", { type: "submit" }, "筛选"),
  );
  const callsBox = h("div");
  const el = h(
    "section.view.stats",
    h("section.card", h("h2", { title: "needs attention now" }, "督办关注"), watch, supervisor ? batchBox : null),
    h("section.card", h("h2", { title: "KPIs (GET /api/v1/stats/summary)" }, "考核指标"), controls, kpiBox),
    h("section.card", h("h2", { title: "calls of the period" }, "通话记录"), callsForm, callsBox),
  );

  function setPeriod(name) {
    const [from, to] = periodOf(name);
    fromInput.value = from;
    toInput.value = addDays(to, -1);
  }

  function readControls() {
    if (!fromInput.value || !toInput.value) return false;
    state.from = localMidnight(fromInput.value);
    state.to = localMidnight(addDays(toInput.value, 1)); // the API's "to" is exclusive
    state.groupBy = groupBy.value;
    return true;
  }

  preset.addEventListener("change", () => {
    if (preset.value !== "custom") {
      setPeriod(preset.value);
      controls.requestSubmit();
    }
  });
  for (const input of [fromInput, toInput]) input.addEventListener("change", () => (preset.value = "custom"));
  groupBy.addEventListener("change", () => controls.requestSubmit());
  controls.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!readControls()) return;
    loadKpis();
    loadCalls();
  });
  callsForm.addEventListener("submit", (e) => {
    e.preventDefault();
    loadCalls();
  });
  exportButton.addEventListener("click", exportCsv);

  // --- needs attention now ----------------------------------------------------------------------
  // Supervision and overdue flags stay on an order after it is closed: those tiles count the
  // orders still being worked on (open=true) and link to the same list (live=true in the URL).
  const WATCH = [
    ["红牌", "red", { supervision: "red" }, true],
    ["黄牌", "yellow", { supervision: "yellow" }, true],
    ["超时", "late", { overdue: "true" }, true],
    ["待督办派单", "queue", { queue: "supervisor" }, false],
    ["待签收", "offered", { status: "offered" }, false],
  ];

  const count = (query) => api("/api/v1/orders", { query: { ...query, limit: 1 } }).then((r) => r.total);

  async function loadWatch() {
    const tiles = await Promise.all(
      WATCH.map(async ([label, kind, filter, openOnly]) => {
        let value = "?";
        let title = "在工单中查看";
        try {
          if (openOnly) {
            const [all, open] = await Promise.all([count(filter), count({ ...filter, open: "true" })]);
            value = String(open);
            title = `未办结 ${open} 单；含已办结、已归档共 ${all} 单`;
          } else {
            value = String(await count(filter));
          }
        } catch {
          /* "?" */
        }
        const link = openOnly ? { ...filter, live: "true" } : filter;
        return h(
          `a.tile.watch-${kind}`,
          { href: `#/orders${queryString(link)}`, title },
          h("span.tile-value", value),
          h("span.tile-label", openOnly ? `${label}（在办）` : label),
        );
      }),
    );
    clear(watch, tiles);
  }

  clear(
    batchBox,
    h(
      "button",
      {
        type: "button",
        title: "POST /api/v1/dispatch/batch: offer every waiting order at once, minimising total distance",
        onclick: async (e) => {
          const button = e.currentTarget;
          button.disabled = true;
          batchBox.querySelector(".error, .batch-result")?.remove();
          try {
            const r = await api("/api/v1/dispatch/batch", { method: "POST" });
            const assigned = Object.keys(r.assigned).length;
            batchBox.append(
              h(
                "p.batch-result",
                `批量派单：待派 ${r.orders} 单，已派 ${assigned} 单，未派 ${r.unassigned.length} 单；总距离 ${r.total_km.toFixed(1)} km（逐单就近 ${r.greedy_km.toFixed(1)} km）`,
              ),
            );
            toast(`批量派单完成：已派 ${assigned} 单`, { kind: "ok" });
            loadWatch();
          } catch (err) {
            batchBox.append(errorLine(err));
          } finally {
            button.disabled = false;
          }
        },
      },
      "批量派单",
    ),
  );

  // --- KPIs ---------------------------------------------------------------------------------------
  async function loadKpis() {
    clear(kpiBox, h("p.muted", "计算中…"));
    try {
      const data = await api("/api/v1/stats/summary", {
        query: { from: state.from, to: state.to, group_by: state.groupBy },
      });
      clear(kpiBox, kpiTables(data));
    } catch (err) {
      clear(kpiBox, errorLine(err));
    }
  }

  async function exportCsv() {
    if (!readControls()) return;
    exportButton.disabled = true;
    clear(exportLink, h("span.muted.small", "生成中…"));
    try {
      const response = await api("/api/v1/stats/export.csv", {
        query: { from: state.from, to: state.to, group_by: state.groupBy },
        raw: true,
      });
      const name =
        /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "")?.[1] || "sanshe-stats.csv";
      if (state.exportUrl) URL.revokeObjectURL(state.exportUrl);
      state.exportUrl = URL.createObjectURL(await response.blob());
      const link = h("a", { href: state.exportUrl, download: name }, name);
      clear(exportLink, link);
      link.click();
    } catch (err) {
      clear(exportLink, errorLine(err));
    } finally {
      exportButton.disabled = false;
    }
  }

  // --- calls --------------------------------------------------------------------------------------
  function waitSeconds(c) {
    return c.answered_at ? `${Math.round((new Date(c.answered_at) - new Date(c.started_at)) / 1000)} 秒` : "—";
  }

  const calls = pagedTable({
    path: "/api/v1/calls",
    columns: ["开始", "来电号码", "分机", "队列", "等待", "通话", "结果", "工单"],
    query: () => ({
      from: state.from,
      to: state.to,
      disposition: callsFilters.disposition.value,
      operator: callsFilters.operator.value.trim(),
      caller: callsFilters.caller.value.trim(),
    }),
    cells: (c) => [
      h("td.nowrap", timeEl(c.started_at)),
      h("td.nowrap", c.caller || "—"),
      h("td", c.operator || "—"),
      h("td", c.queue || "—"),
      h("td.num", waitSeconds(c)),
      h("td.num", c.talk_seconds ? `${c.talk_seconds} 秒` : "—"),
      h(
        "td",
        c.disposition
          ? h(`span.badge.disp-${c.disposition}`, DISPOSITION_LABELS[c.disposition] || c.disposition)
          : h("span.badge.talking", "进行中"),
      ),
      h(
        "td",
        (c.order_ids || []).map((id) => h("a", { href: `#/orders?open=${id}` }, `#${id}`)),
        c.recording_url ? h("span.muted.small", { title: c.recording_url }, " 有录音") : null,
      ),
    ],
    pageSize: CALLS_PAGE,
    emptyText: "该时间段没有通话",
    className: ".calls-table",
  });
  callsBox.append(calls.el);
  const loadCalls = () => calls.load(0);

  setPeriod("month");
  readControls();
  let shown = false;
  return {
    el,
    show() {
      loadWatch();
      if (!shown) {
        shown = true;
        loadKpis();
        loadCalls();
      }
    },
  };
}
