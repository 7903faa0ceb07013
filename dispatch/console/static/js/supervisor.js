// 督办 (supervision): what needs attention now (yellow/red, overdue, the orders nobody can take,
// the calls to return and the rating callbacks), kept current by the live events; the KPIs of a
// period with the CSV export, its charts and map (dashboard.js, with the monthly report), the
// star evaluation (league.js), and the calls of that period. Operators read it all; batch
// dispatch (a plan first, offered only on 确认派单) is for supervisors and admins.

import { api, queryString } from "./api.js";
import { createDashboard } from "./dashboard.js";
import { GROUP_BY, kpiTables } from "./kpis.js";
import { createLeague } from "./league.js";
import { pagedTable } from "./paged-table.js";
import { CALL_OUTCOMES, outcomePicker } from "./outcomes.js";
import { revealablePhone } from "./reveal.js";
import { openReport } from "./report.js";
import { create as createVisits } from "./visits.js";
import {
  DISPOSITION_LABELS,
  OUTCOME_LABELS,
  clear,
  coalesce,
  errorLine,
  h,
  localMidnight,
  nationalPhone,
  orderNumber,
  saveDownload,
  timeEl,
  toast,
  ymd,
} from "./ui.js";

const CALLS_PAGE = 20;
// Offered as reasons for exporting personal data (anything else may be typed; it is recorded).
const EXPORT_REASONS = ["上级部门核查", "服务质量抽查", "居民投诉核实"];

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
  const state = { from: "", to: "", groupBy: "" };

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
  // Without a grouping the workbook has a sheet per grouping (总体, 按类别, 按社区, 按服务方, 按日).
  const exportXlsx = h("button", { type: "button", title: "GET /api/v1/stats/export.xlsx" }, "导出 Excel");
  const exportLink = h("span.export-link");
  // The period's orders as CSV: masked (surname, 138****8000, no house numbers); admins may ask
  // for personal data, with a reason that is recorded.
  const ordersExport = supervisor ? ordersExportControls() : null;
  const controls = h(
    "form.filters",
    preset,
    fromInput,
    h("span.muted", "至"),
    toInput,
    groupBy,
    h("button.primary", { type: "submit" }, "查询"),
    exportButton,
    exportXlsx,
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
  const visits = createVisits(app);
  const dashboard = createDashboard(app, {
    period: () => ({ from: state.from, to: state.to }),
    showCalls: (disposition) => {
      callsFilters.disposition.value = disposition;
      loadCalls();
      callsCard.scrollIntoView({ behavior: "smooth", block: "start" });
    },
    openReport: () => openReport(app, fromInput.value.slice(0, 7)),
  });
  const league = supervisor ? createLeague(app) : null;
  const callsCard = h("section.card", h("h2", { title: "calls of the period" }, "通话记录"), callsForm, callsBox);
  const el = h(
    "section.view.stats",
    h("section.card", h("h2", { title: "needs attention now" }, "督办关注"), watch, supervisor ? batchBox : null),
    h(
      "section.card",
      h("h2", { title: "KPIs (GET /api/v1/stats/summary)" }, "考核指标"),
      controls,
      ordersExport,
      kpiBox,
    ),
    h(
      "section.card.dashboard-card",
      h("h2", { title: "charts of the period: click a bar or point for its orders" }, "数据看板"),
      dashboard.el,
    ),
    league
      ? h("section.card", h("h2", { title: "star evaluation (GET /api/v1/stats/providers)" }, "星级评价"), league.el)
      : null,
    callsCard,
    h("section.card", h("h2", { title: "care visit plans (GET /api/v1/visit-plans)" }, "定期探访"), visits.el),
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
    dashboard.load();
    loadCalls();
  });
  callsForm.addEventListener("submit", (e) => {
    e.preventDefault();
    loadCalls();
  });
  exportButton.addEventListener("click", () => exportSummary(exportButton, "csv"));
  exportXlsx.addEventListener("click", () => exportSummary(exportXlsx, "xlsx"));

  // --- needs attention now ----------------------------------------------------------------------
  // Supervision and overdue flags stay on an order after it is closed: those tiles count the
  // orders still being worked on (open=true) and link to the same list (live=true in the URL).
  // [label, kind, filter, open only, what it counts]
  const WATCH = [
    ["红牌", "red", { supervision: "red" }, true, "红牌督办的工单"],
    ["黄牌", "yellow", { supervision: "yellow" }, true, "黄牌督办的工单"],
    ["超时", "late", { overdue: "true" }, true, "超过办结时限的工单"],
    ["督办派单", "queue", { queue: "supervisor" }, false, "无人可派或多次退单，等督办派单的工单"],
    ["待派单", "dispatch", { queue: "dispatch" }, false, "已受理、等坐席派单的工单"],
    ["待签收", "offered", { status: "offered" }, false, "已派出、等服务方签收的工单"],
  ];

  const count = (query) => api("/api/v1/orders", { query: { ...query, limit: 1 } }).then((r) => r.total);
  const worklistTiles = h("span.worklist-tiles");

  async function loadWatch() {
    const tiles = await Promise.all(
      WATCH.map(async ([label, kind, filter, openOnly, what]) => {
        let value = "?";
        let title = `${what}：在工单中查看`;
        try {
          if (openOnly) {
            const [all, open] = await Promise.all([count(filter), count({ ...filter, open: "true" })]);
            value = String(open);
            title = `${what}：未办结 ${open} 单；含已办结、已归档共 ${all} 单`;
          } else {
            value = String(await count(filter));
          }
        } catch {
          /* "?" */
        }
        const link = openOnly ? { ...filter, live: "true" } : filter;
        return h(
          `a.tile.watch-${kind}`,
          {
            href: `#/orders${queryString(link)}`,
            title,
            dataset: { tile: kind },
            class: value === "0" ? "zero" : null,
          },
          h("span.tile-value", value),
          h("span.tile-label", openOnly ? `${label}（在办）` : label),
        );
      }),
    );
    clear(watch, tiles, worklistTiles);
  }

  /** 待回拨 and 待回访, from the counts the whole console shares. */
  function renderWorklistTiles({ callbacks, ratings }) {
    const tile = (kind, label, value, href, title) =>
      h(
        `a.tile.watch-${kind}`,
        { href, title, dataset: { tile: kind }, class: value === 0 ? "zero" : null },
        h("span.tile-value", value == null ? "?" : String(value)),
        h("span.tile-label", label),
      );
    clear(
      worklistTiles,
      tile("callbacks", "待回拨", callbacks, "#/callbacks", "未接、放弃和留言的来电，等回拨"),
      tile("ratings", "待回访", ratings, "#/callbacks?list=rating", "已办结、等回访评价的工单"),
    );
  }
  renderWorklistTiles({});
  app.counts?.subscribe(renderWorklistTiles);

  // Every change of an order by anyone may move a tile: recount, at most every few seconds.
  app.on(
    "order",
    coalesce(() => !el.hidden && loadWatch(), { wait: 500, maxWait: 5000 }),
  );

  // --- batch dispatch: the plan, then 确认派单 -------------------------------------------------------
  const planButton = h(
    "button",
    {
      type: "button",
      title: "POST /api/v1/dispatch/batch/plan: a plan for every waiting order, minimising total distance",
    },
    "批量派单",
  );
  const planBox = h("div.batch-plan");
  clear(batchBox, h("div.row", planButton, h("span.muted.small", "先看方案，确认后才派出")), planBox);

  planButton.addEventListener("click", async () => {
    planButton.disabled = true;
    clear(planBox, h("p.muted", "正在计算派单方案…"));
    try {
      showPlan(await api("/api/v1/dispatch/batch/plan", { method: "POST" }));
    } catch (err) {
      clear(planBox, errorLine(err));
    } finally {
      planButton.disabled = false;
    }
  });

  function showPlan(plan) {
    const rows = plan.plan || [];
    const unassigned = plan.unassigned || [];
    if (!plan.orders) return clear(planBox, h("p.muted", "没有等待派单的工单"));
    const confirmButton = h(
      "button.primary",
      { type: "button", disabled: !rows.length },
      `确认派单（${rows.length} 单）`,
    );
    const cancel = h("button.ghost", { type: "button", onclick: () => clear(planBox) }, "取消");
    const result = h("div");
    const saving =
      plan.greedy_km > plan.total_km ? `，比逐单就近少 ${(plan.greedy_km - plan.total_km).toFixed(1)} km` : "";
    clear(
      planBox,
      h(
        "p.plan-summary",
        `待派 ${plan.orders} 单：可派 ${rows.length} 单，总距离 ${plan.total_km.toFixed(1)} km${saving}`,
        unassigned.length ? `；${unassigned.length} 单无法派出` : "",
      ),
      rows.length
        ? h(
            "div.table-wrap",
            h(
              "table.plan-table",
              h(
                "thead",
                h(
                  "tr",
                  ["工单号", "服务事项", "派给", "距离"].map((t) => h("th", t)),
                ),
              ),
              h(
                "tbody",
                rows.map((p) =>
                  h(
                    "tr",
                    h("td.nowrap", h("a", { href: `#/orders?open=${p.order_id}` }, orderNumber(p.number))),
                    h("td", app.itemName(p.item_code)),
                    h("td", p.provider_name || `#${p.provider_id}`),
                    h("td.num", `${p.distance_km.toFixed(1)} km`),
                  ),
                ),
              ),
            ),
          )
        : null,
      unassigned.length
        ? h(
            "details.unassigned",
            { open: !rows.length },
            h("summary", `无法派出 (${unassigned.length})`),
            h(
              "ul",
              unassigned.map((u) =>
                h(
                  "li",
                  h("a", { href: `#/orders?open=${u.order_id}` }, orderNumber(u.number)),
                  h("span.reason", u.reason),
                ),
              ),
            ),
          )
        : null,
      h("div.row", confirmButton, cancel),
      result,
    );
    confirmButton.addEventListener("click", async () => {
      confirmButton.disabled = true;
      cancel.disabled = true;
      clear(result, h("p.muted", "正在派单…"));
      try {
        const r = await api("/api/v1/dispatch/batch", {
          body: { assignments: rows.map((p) => ({ order_id: p.order_id, provider_id: p.provider_id })) },
        });
        const assigned = Object.keys(r.assigned || {}).length;
        const failed = Object.entries(r.failed || {});
        clear(
          planBox,
          h("p.batch-result", `已派出 ${assigned} 单${failed.length ? `，${failed.length} 单未能派出` : ""}`),
          failed.length
            ? h(
                "ul.batch-failed",
                failed.map(([number, reason]) => h("li", orderNumber(number), h("span.reason", reason))),
              )
            : null,
        );
        toast(`批量派单：已派出 ${assigned} 单`, { kind: "ok" });
        loadWatch();
      } catch (err) {
        clear(result, errorLine(err));
        confirmButton.disabled = false;
        cancel.disabled = false;
      }
    });
    confirmButton.focus();
  }

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

  async function exportSummary(button, ext) {
    if (!readControls()) return;
    button.disabled = true;
    clear(exportLink, h("span.muted.small", "生成中…"));
    try {
      const path = { csv: "/api/v1/stats/export.csv", xlsx: "/api/v1/stats/export.xlsx" }[ext];
      const response = await api(path, {
        query: { from: state.from, to: state.to, group_by: state.groupBy },
        raw: true,
      });
      await saveDownload(response, exportLink, `sanshe-stats.${ext}`);
    } catch (err) {
      clear(exportLink, errorLine(err));
    } finally {
      button.disabled = false;
    }
  }

  // --- orders export ------------------------------------------------------------------------------
  function ordersExportControls() {
    const box = h("span.export-link");
    const reason = h("input", {
      name: "reason",
      list: "export-reasons",
      required: true,
      minLength: 2,
      maxLength: 200,
      size: 14,
      placeholder: "导出原因",
      "aria-label": "导出个人信息的原因",
    });
    const personal = h("input", { type: "checkbox", name: "personal" });
    const form = h(
      "form.filters.orders-export",
      { title: "GET /api/v1/exports/orders.csv" },
      h("span.label", "工单明细"),
      app.user.role === "admin"
        ? [
            h("label.check", { title: "完整姓名、号码、地址和标签，须填写原因，记入访问记录" }, personal, "含个人信息"),
            h("datalist", { id: "export-reasons" }, EXPORT_REASONS.map((r) => h("option", { value: r }))),
            reason,
          ]
        : h("span.muted.small", "（已脱敏）"),
      h("button", { type: "submit", value: "csv", title: "GET /api/v1/exports/orders.csv" }, "导出工单 CSV"),
      h("button", { type: "submit", value: "xlsx", title: "GET /api/v1/exports/orders.xlsx" }, "导出工单 Excel"),
      box,
    );
    const syncReason = () => {
      reason.hidden = !personal.checked;
      reason.required = personal.checked;
    };
    personal.addEventListener("change", syncReason);
    syncReason();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!readControls() || !form.reportValidity()) return;
      const ext = e.submitter?.value === "xlsx" ? "xlsx" : "csv";
      const buttons = [...form.querySelectorAll("button[type=submit]")];
      for (const b of buttons) b.disabled = true;
      clear(box, h("span.muted.small", "生成中…"));
      try {
        const query = { from: state.from, to: state.to };
        if (personal.checked) Object.assign(query, { personal: true, reason: reason.value.trim() });
        const path = { csv: "/api/v1/exports/orders.csv", xlsx: "/api/v1/exports/orders.xlsx" }[ext];
        const response = await api(path, { query, raw: true });
        await saveDownload(response, box, `sanshe-orders.${ext}`);
      } catch (err) {
        clear(box, errorLine(err));
      } finally {
        for (const b of buttons) b.disabled = false;
      }
    });
    return form;
  }

  // --- calls --------------------------------------------------------------------------------------
  function waitSeconds(c) {
    return c.answered_at ? `${Math.round((new Date(c.answered_at) - new Date(c.started_at)) / 1000)} 秒` : "—";
  }

  function callResult(c) {
    const numbers = c.order_numbers || [];
    if (numbers.length)
      return numbers.map((n, i) =>
        h("a", { href: `#/orders?open=${c.order_ids[i]}`, title: "打开工单" }, orderNumber(n)),
      );
    if (c.outcome) return h("span.badge.outcome", { title: c.outcome }, OUTCOME_LABELS[c.outcome] || c.outcome);
    if (c.callback_id != null) return h("span.badge", { title: `callback ${c.callback_id}` }, "已转回拨");
    if (c.disposition !== "answered" || c.order_ids?.length) return null;
    // Answered, no order, no outcome yet: say what it was.
    const cell = h("span");
    const button = h(
      "button.ghost.small",
      {
        type: "button",
        title: "未生成工单的通话：登记处理结果",
        onclick: () =>
          clear(
            cell,
            outcomePicker({
              codes: CALL_OUTCOMES,
              itemName: app.itemName,
              withNote: false,
              openOrders: async () =>
                c.resident_id ? (await api(`/api/v1/residents/${c.resident_id}`)).open_orders : [],
              onSubmit: async (body) => {
                await api(`/api/v1/calls/${c.id}/outcome`, { body });
                toast(`通话已登记：${OUTCOME_LABELS[body.outcome]}`, { kind: "ok" });
                calls.refresh();
              },
            }),
          ),
      },
      "登记结果",
    );
    return clear(cell, button);
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
      h(
        "td.nowrap.phone-cell",
        c.caller || !c.caller_national
          ? c.caller_national || nationalPhone(c.caller) || "—"
          : revealablePhone(c.caller_national, { call_id: c.id }),
      ),
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
        "td.call-result",
        callResult(c),
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
        dashboard.load();
        league?.show();
        loadCalls();
        visits.show();
      }
    },
  };
}
