// 月报 (the monthly report to print): one month's KPIs against their targets, the dashboard's
// charts as images (ECharts getDataURL, so they print sharp and need no script in the print),
// and the organisations' league table, laid out for A4 (console.css "@media print"). It covers
// the console while open; 打印 prints it, 关闭 goes back.

import { api } from "./api.js";
import { chartImage, fmtValue } from "./charts.js";
import {
  categoryData,
  categoryOption,
  durationsData,
  durationsOption,
  hourlyData,
  hourlyOption,
  mapData,
  mapOption,
  ratesData,
  ratesOption,
} from "./dashboard.js";
import { fetchLeague, lastMonth, leagueTable, monthSelect } from "./league.js";
import { clear, errorLine, h, localMidnight, ymd } from "./ui.js";

// [key, 中文, kind, target key]: the report's KPI table.
const KPI_ROWS = [
  ["received", "受理量", "count"],
  ["completed", "办结", "count"],
  ["closure_rate", "办结率", "rate", "closure_rate"],
  ["on_time_rate", "按时办结率", "rate", "on_time_rate"],
  ["sign_on_time_rate", "及时签收率", "rate", "sign_on_time_rate"],
  ["return_rate", "退单率", "rate"],
  ["reopen_rate", "重办率", "rate"],
  ["satisfaction_rate", "满意率", "rate", "satisfaction_rate"],
  ["avg_rating", "平均评分", "score"],
  ["p50_minutes_to_accept", "签收用时 P50", "minutes", "minutes_to_accept"],
  ["p90_minutes_to_accept", "签收用时 P90", "minutes"],
  ["p50_minutes_to_complete", "办结用时 P50", "minutes"],
  ["calls_inbound", "呼入", "count"],
  ["answer_rate", "接通率", "rate", "answer_rate"],
  ["abandon_rate", "放弃率", "rate"],
];

function monthRange(month) {
  const [y, m] = month.split("-").map(Number);
  return { from: localMidnight(ymd(new Date(y, m - 1, 1))), to: localMidnight(ymd(new Date(y, m, 1))) };
}

function kpiTable(summary, targets) {
  const met = (key, target, value) => {
    if (target === undefined || value === null || value === undefined) return "";
    const good = key === "minutes_to_accept" ? value <= targets[key] : value >= targets[key];
    return good ? "达标" : "未达标";
  };
  return h(
    "table.report-kpis",
    h(
      "thead",
      h(
        "tr",
        ["指标", "本月", "目标", ""].map((t) => h("th", { scope: "col" }, t)),
      ),
    ),
    h(
      "tbody",
      KPI_ROWS.filter(([k]) => k in summary).map(([key, label, kind, target]) => {
        const verdict = met(target, target && targets[target], summary[key]);
        return h(
          "tr",
          { dataset: { metric: key } },
          h("th", { scope: "row" }, label),
          h("td.num", fmtValue(kind, summary[key])),
          h("td.num", target ? fmtValue(target === "minutes_to_accept" ? "minutes" : "rate", targets[target]) : ""),
          h(`td.${verdict === "达标" ? "ok" : "bad"}`, verdict),
        );
      }),
    ),
  );
}

/** Open the report of a month ("2026-11"; default last month) over the console. */
export function openReport(app, month = lastMonth()) {
  document.querySelector(".report")?.remove();
  const picker = monthSelect(month, { "aria-label": "月份" });
  const printButton = h("button.primary", { type: "button", disabled: true }, "打印");
  const close = h("button.ghost", { type: "button" }, "关闭");
  const body = h("div.report-body");
  const el = h(
    "section.report",
    { "aria-label": "月报" },
    h("div.report-toolbar", h("span", "月报 "), picker, printButton, close, h("span.muted.small", "A4 纵向打印；图表为图片")),
    body,
  );
  document.body.append(el);
  document.body.classList.add("report-open");
  const done = () => {
    el.remove();
    document.body.classList.remove("report-open");
  };
  close.addEventListener("click", done);
  printButton.addEventListener("click", () => window.print());
  picker.addEventListener("change", () => picker.value && build(picker.value));

  async function build(which) {
    printButton.disabled = true;
    delete el.dataset.ready;
    clear(body, h("p.muted", "正在生成月报…"));
    const p = monthRange(which);
    try {
      const [targets, overall, byDay, byCategory, calls, points, league] = await Promise.all([
        api("/api/v1/stats/targets"),
        api("/api/v1/stats/summary", { query: p }),
        api("/api/v1/stats/summary", { query: { ...p, group_by: "day" } }),
        api("/api/v1/stats/summary", { query: { ...p, group_by: "category" } }),
        api("/api/v1/stats/calls/hourly", { query: p }),
        api("/api/v1/stats/map", { query: p }),
        fetchLeague(which, "organisation").catch((err) => err),
      ]);
      const [y, m] = which.split("-").map(Number);
      const figure = async (title, option, size) =>
        h("figure.report-chart", h("img", { src: await chartImage(option, size), alt: title }), h("figcaption", title));
      const mapRows = mapData(points);
      const charts = await Promise.all([
        figure("办结率、按时办结率、及时签收率、满意率（按日，虚线为目标）", ratesOption(ratesData(byDay, "day"), targets)),
        figure("签收、到场、办结用时（分钟，按日）", durationsOption(durationsData(byDay, "day"), targets)),
        figure("各类别受理量", categoryOption(categoryData(byCategory, app))),
        figure("各时段来电：接通与放弃", hourlyOption(hourlyData(calls))),
        figure("辖区地图：各社区在办、超时工单与服务方", mapOption(mapRows, 720, 420), { width: 720, height: 420 }),
      ]);
      clear(
        body,
        h(
          "header.report-head",
          h("h1", `三社联动服务月报 · ${y}年${m}月`),
          h("p.muted", `统计区间 ${ymd(new Date(p.from))} 至 ${ymd(new Date(new Date(p.to) - 1))}（按受理时间）；生成于 ${new Date().toLocaleString("zh-CN")}`),
        ),
        h("section.report-section", h("h2", "一、考核指标"), kpiTable(overall, targets)),
        h("section.report-section.page-break", h("h2", "二、趋势与分布"), charts.slice(0, 4)),
        h("section.report-section.page-break", h("h2", "三、辖区分布"), charts[4]),
        h(
          "section.report-section.page-break",
          h("h2", "四、服务组织星级评价"),
          league instanceof Error ? errorLine(league) : leagueTable(league),
        ),
      );
      el.dataset.ready = which;
      printButton.disabled = false;
    } catch (err) {
      clear(body, errorLine(err));
    }
  }

  build(month);
  return el;
}
