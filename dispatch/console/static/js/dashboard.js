// 数据看板 (the 督办 dashboard): rates against their targets by day/week/month, volume by
// category, calls by hour of day, times to accept/arrive/complete, and the district map. Every
// chart has its table (表格); a click on a bar, point or table row opens the orders behind it
// in the 工单 tab, filtered. The figures come from GET /api/v1/stats/summary, /stats/targets,
// /stats/calls/hourly and /stats/map; the builders below are shared with the monthly report.

import { api } from "./api.js";
import { chartCard, fmtValue, targetLine } from "./charts.js";
import { clear, errorLine, h, localMidnight, ymd } from "./ui.js";

export const RATES = [
  ["closure_rate", "办结率"],
  ["on_time_rate", "按时办结率"],
  ["sign_on_time_rate", "及时签收率"],
  ["satisfaction_rate", "满意率"],
];
const STAGES = [
  ["accept", "签收"],
  ["arrive", "到场"],
  ["complete", "办结"],
];
export const GRAINS = [
  ["day", "按日"],
  ["week", "按周"],
  ["month", "按月"],
];

// --- time buckets -------------------------------------------------------------------------------

function shiftDay(text, days) {
  const [y, m, d] = text.split("-").map(Number);
  return ymd(new Date(y, m - 1, d + days));
}

/** [from, to) of a day, week (its Monday) or month ("2026-11") key, as API instants. */
export function bucketRange(grain, key) {
  if (grain === "month") {
    const [y, m] = key.split("-").map(Number);
    return [localMidnight(ymd(new Date(y, m - 1, 1))), localMidnight(ymd(new Date(y, m, 1)))];
  }
  const first = String(key).slice(0, 10);
  return [localMidnight(first), localMidnight(shiftDay(first, grain === "week" ? 7 : 1))];
}

/** The part of a bucket inside the period (a week or month may begin before it). */
function within(range, period) {
  const from = new Date(range[0]) < new Date(period.from) ? period.from : range[0];
  const to = new Date(range[1]) > new Date(period.to) ? period.to : range[1];
  return { from, to };
}

// --- the tables every chart is drawn from -------------------------------------------------------

export function ratesData(summary, grain) {
  return {
    columns: [["label", GRAINS.find(([g]) => g === grain)?.[1].slice(1) || "日期"], ...RATES.map(([k, t]) => [k, t, "rate"]), ["received", "受理量", "count"]],
    rows: summary.groups.map((g) => ({ ...g, label: g.label || String(g.key) })),
  };
}

export function categoryData(summary, app) {
  const rows = summary.groups
    .filter((g) => g.received > 0)
    .map((g) => ({ ...g, label: g.label || app?.catalogue.categories.get(g.key)?.name_zh || String(g.key) }))
    .sort((a, b) => b.received - a.received);
  return {
    columns: [
      ["label", "服务类别"],
      ["received", "受理量", "count"],
      ["completed", "办结", "count"],
      ["closure_rate", "办结率", "rate"],
    ],
    rows,
  };
}

export function hourlyData(hourly) {
  return {
    columns: [
      ["label", "时段"],
      ["answered", "接通", "count"],
      ["abandoned", "放弃", "count"],
      ["unanswered", "未接及留言", "count"],
      ["inbound", "呼入", "count"],
    ],
    rows: hourly.hours.map((r) => ({ ...r, label: `${String(r.hour).padStart(2, "0")}:00` })),
  };
}

/** p50 where the summary has it (else the mean) and p90, in minutes, per stage. */
export function durationsData(summary, grain) {
  const sample = summary.groups[0] || {};
  const mid = (stage) => (`p50_minutes_to_${stage}` in sample ? "p50" : "mean");
  const columns = [["label", GRAINS.find(([g]) => g === grain)?.[1].slice(1) || "日期"]];
  for (const [stage, label] of STAGES) {
    const m = mid(stage);
    columns.push([`${m}_minutes_to_${stage}`, `${label}用时 ${m === "p50" ? "P50" : "平均"}`, "minutes"]);
    columns.push([`p90_minutes_to_${stage}`, `${label}用时 P90`, "minutes"]);
  }
  return { columns, rows: summary.groups.map((g) => ({ ...g, label: g.label || String(g.key) })) };
}

export function mapData(map) {
  return {
    columns: [
      ["name", "社区"],
      ["open", "在办工单", "count"],
      ["overdue", "其中超时", "count"],
      ["received", "受理量", "count"],
      ["organisations", "服务组织", "count"],
      ["workers", "服务人员", "count"],
    ],
    rows: map.communities,
  };
}

// --- chart options ------------------------------------------------------------------------------

const GRID = { left: 56, right: 24, top: 40, bottom: 56, containLabel: false };
const percentAxis = { type: "value", min: 0, max: 1, axisLabel: { formatter: (v) => `${Math.round(v * 100)}%` } };

export function ratesOption(data, targets) {
  return {
    grid: GRID,
    legend: { top: 0 },
    tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => fmtValue("rate", v) },
    xAxis: { type: "category", data: data.rows.map((r) => r.label) },
    yAxis: percentAxis,
    series: RATES.map(([key, label], i) => ({
      name: label,
      type: "line",
      symbolSize: 7,
      connectNulls: false,
      data: data.rows.map((r) => r[key] ?? null),
      markLine: targetLine(targets?.[key], `${label}目标`, i),
    })),
  };
}

export function categoryOption(data) {
  return {
    grid: { ...GRID, left: 96 },
    tooltip: { trigger: "axis", renderMode: "richText" },
    legend: { top: 0 },
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", inverse: true, data: data.rows.map((r) => r.label) },
    series: [
      { name: "受理量", type: "bar", data: data.rows.map((r) => r.received) },
      { name: "办结", type: "bar", data: data.rows.map((r) => r.completed) },
    ],
  };
}

export function hourlyOption(data) {
  const bar = (key, name, color) => ({ name, type: "bar", stack: "calls", color, data: data.rows.map((r) => r[key]) });
  return {
    grid: GRID,
    legend: { top: 0 },
    tooltip: { trigger: "axis", renderMode: "richText" },
    xAxis: { type: "category", data: data.rows.map((r) => r.label) },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      bar("answered", "接通", "#2da44e"),
      bar("abandoned", "放弃", "#cf222e"),
      bar("unanswered", "未接及留言", "#bf8700"),
    ],
  };
}

export function durationsOption(data, targets) {
  const [, ...metrics] = data.columns;
  return {
    grid: { ...GRID, top: 56 },
    legend: { top: 0, type: "scroll" },
    tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => fmtValue("minutes", v) },
    xAxis: { type: "category", data: data.rows.map((r) => r.label) },
    yAxis: { type: "value", name: "分钟", min: 0 },
    series: metrics.map(([key, label], i) => ({
      name: label,
      type: "line",
      symbolSize: 6,
      lineStyle: { type: key.startsWith("p90") ? "dashed" : "solid" },
      data: data.rows.map((r) => (r[key] == null ? null : Math.round(r[key] * 10) / 10)),
      markLine:
        i === 0 && targets?.minutes_to_accept
          ? {
              silent: true,
              symbol: "none",
              lineStyle: { type: "dashed", color: "#cf222e" },
              label: { formatter: `签收目标 ${targets.minutes_to_accept} 分钟`, position: "insideEndTop" },
              data: [{ yAxis: targets.minutes_to_accept }],
            }
          : undefined,
    })),
  };
}

/** Longitude/latitude axes with the same ground distance per pixel both ways (no tiles needed). */
export function mapFrame(rows, width, height) {
  const grid = { left: 64, right: 24, top: 36, bottom: 40 };
  const lons = rows.map((r) => r.lon);
  const lats = rows.map((r) => r.lat);
  const midLat = lats.length ? (Math.min(...lats) + Math.max(...lats)) / 2 : 30;
  const k = Math.cos((midLat * Math.PI) / 180); // km per degree of longitude ÷ km per degree of latitude
  let lonSpan = Math.max(lons.length ? Math.max(...lons) - Math.min(...lons) : 0, 0.005) * 1.3;
  let latSpan = Math.max(lats.length ? Math.max(...lats) - Math.min(...lats) : 0, 0.005) * 1.3;
  const w = Math.max(width - grid.left - grid.right, 50);
  const hgt = Math.max(height - grid.top - grid.bottom, 50);
  if ((lonSpan * k) / w > latSpan / hgt) latSpan = (lonSpan * k * hgt) / w;
  else lonSpan = (latSpan * w) / (hgt * k);
  const midLon = lons.length ? (Math.min(...lons) + Math.max(...lons)) / 2 : 120;
  return {
    grid,
    x: [midLon - lonSpan / 2, midLon + lonSpan / 2],
    y: [midLat - latSpan / 2, midLat + latSpan / 2],
  };
}

export function mapOption(data, width, height) {
  const frame = mapFrame(data.rows, width, height);
  const size = (n) => (n ? 10 + Math.sqrt(n) * 7 : 6);
  const point = (r, value) => ({ name: r.name, value: [r.lon, r.lat, value] });
  const axis = (name, [min, max]) => ({
    type: "value",
    name,
    min,
    max,
    splitLine: { lineStyle: { color: "#eaeef2" } },
    axisLabel: { formatter: (v) => v.toFixed(3) },
  });
  return {
    grid: frame.grid,
    legend: { top: 0 },
    tooltip: {
      trigger: "item",
      renderMode: "richText",
      formatter: (p) => {
        const r = data.rows[p.dataIndex];
        return `${r.name}\n在办 ${r.open} 单，其中超时 ${r.overdue} 单\n受理 ${r.received} 单\n服务组织 ${r.organisations}，服务人员 ${r.workers}`;
      },
    },
    xAxis: axis("经度", frame.x),
    yAxis: axis("纬度", frame.y),
    series: [
      {
        name: "在办工单",
        type: "scatter",
        color: "#1f6feb",
        itemStyle: { opacity: 0.75 },
        symbolSize: (v) => size(v[2]),
        label: { show: true, position: "right", formatter: (p) => `${p.name} ${p.value[2]}` },
        data: data.rows.map((r) => point(r, r.open)),
      },
      {
        name: "其中超时",
        type: "scatter",
        color: "#cf222e",
        symbolSize: (v) => (v[2] ? size(v[2]) * 0.8 : 0),
        data: data.rows.map((r) => point(r, r.overdue)),
      },
      {
        name: "服务方",
        type: "scatter",
        symbol: "diamond",
        color: "#2da44e",
        symbolOffset: [0, 16],
        symbolSize: (v) => (v[2] ? 6 + Math.sqrt(v[2]) * 3 : 0),
        data: data.rows.map((r) => point(r, r.organisations + r.workers)),
      },
    ],
  };
}

// Slippy-map tiles (Web Mercator) behind the map when [dashboard] tile_url is set.
const lon2x = (lon, z) => Math.floor(((lon + 180) / 360) * 2 ** z);
const lat2y = (lat, z) => {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
};
const x2lon = (x, z) => (x / 2 ** z) * 360 - 180;
const y2lat = (y, z) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / 2 ** z))) * 180) / Math.PI;

export function tileGraphics(chart, url, width) {
  const xAxis = chart.getModel().getComponent("xAxis").axis.scale.getExtent();
  const yAxis = chart.getModel().getComponent("yAxis").axis.scale.getExtent();
  const z = Math.max(1, Math.min(18, Math.floor(Math.log2((360 * width) / (256 * (xAxis[1] - xAxis[0]))))));
  const tiles = [];
  for (let x = lon2x(xAxis[0], z); x <= lon2x(xAxis[1], z); x++)
    for (let y = lat2y(yAxis[1], z); y <= lat2y(yAxis[0], z); y++) {
      const [left, top] = chart.convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [x2lon(x, z), y2lat(y, z)]);
      const [right, bottom] = chart.convertToPixel({ xAxisIndex: 0, yAxisIndex: 0 }, [x2lon(x + 1, z), y2lat(y + 1, z)]);
      const src = url.replace("{z}", z).replace("{x}", x).replace("{y}", y);
      tiles.push({
        type: "image",
        silent: true,
        z: -10,
        style: { image: src, x: left, y: top, width: right - left, height: bottom - top, opacity: 0.8 },
      });
    }
  return tiles;
}

// --- the dashboard ------------------------------------------------------------------------------

/**
 * period(): {from, to} of the 督办 controls (API instants); showCalls(disposition): the calls of
 * the period below; openReport(): the monthly report.
 */
export function createDashboard(app, { period, showCalls, openReport }) {
  let targets = null;
  const grain = h(
    "select",
    { "aria-label": "趋势粒度" },
    GRAINS.map(([v, t]) => h("option", { value: v }, t)),
  );
  const reportButton = h("button", { type: "button", title: "可打印的月报（A4）" }, "月报");
  const status = h("div.dashboard-status");
  const goOrders = (filters) => app.go("orders", filters);

  const rates = chartCard({
    name: "rates",
    title: "办结率、按时办结率、及时签收率、满意率",
    note: "虚线为目标",
    data: { columns: [], rows: [] },
    option: (data) => ratesOption(data, targets),
    onPick: (row) => goOrders(within(bucketRange(grain.value, row.key), period())),
  });
  const categories = chartCard({
    name: "categories",
    title: "各类别受理量",
    data: { columns: [], rows: [] },
    option: (data) => categoryOption(data),
    onPick: (row, series) => {
      const p = period();
      goOrders({ from: p.from, to: p.to, category: row.key, status: series === "办结" ? "completed" : "" });
    },
  });
  const hourly = chartCard({
    name: "hourly",
    title: "各时段来电：接通与放弃",
    note: "点击查看该时间段的通话",
    data: { columns: [], rows: [] },
    option: (data) => hourlyOption(data),
    onPick: (row, series) =>
      showCalls({ 接通: "answered", 放弃: "abandoned", 未接及留言: "missed" }[series] || ""),
  });
  const durations = chartCard({
    name: "durations",
    title: "签收、到场、办结用时（分钟）",
    note: "实线 P50，虚线 P90",
    data: { columns: [], rows: [] },
    option: (data) => durationsOption(data, targets),
    onPick: (row) => goOrders(within(bucketRange(grain.value, row.key), period())),
  });
  const attribution = h("p.muted.small.map-attribution");
  const map = chartCard({
    name: "map",
    title: "辖区地图：各社区在办、超时工单与服务方",
    note: "圆点大小为在办工单数，红色为超时，绿色菱形为服务方；点击社区查看其在办工单",
    height: "tall",
    data: { columns: [], rows: [] },
    option: (data, el) => mapOption(data, el.clientWidth || 800, el.clientHeight || 420),
    onPick: (row) => {
      const p = period();
      goOrders({ from: p.from, to: p.to, community_id: row.id, live: "true" });
    },
    after: (chart) => {
      if (!targets?.tile_url) return;
      chart.setOption({ graphic: tileGraphics(chart, targets.tile_url, chart.getWidth()) });
      attribution.textContent = targets.tile_attribution;
    },
  });

  const el = h(
    "div.dashboard",
    h("div.row.dashboard-controls", h("label", "趋势 ", grain), reportButton),
    status,
    h("div.chart-grid", rates.el, durations.el, categories.el, hourly.el),
    map.el,
    attribution,
  );
  reportButton.addEventListener("click", () => openReport());
  grain.addEventListener("change", () => load());
  window.addEventListener(
    "resize",
    () => [rates, durations, categories, hourly, map].forEach((c) => c.resize()),
    { signal: app.lifetime.signal },
  );

  async function load() {
    const p = period();
    clear(status, h("p.muted", "计算中…"));
    try {
      if (!targets) targets = await api("/api/v1/stats/targets");
      const [trend, byCategory, calls, points] = await Promise.all([
        api("/api/v1/stats/summary", { query: { from: p.from, to: p.to, group_by: grain.value } }),
        api("/api/v1/stats/summary", { query: { from: p.from, to: p.to, group_by: "category" } }),
        api("/api/v1/stats/calls/hourly", { query: { from: p.from, to: p.to } }),
        api("/api/v1/stats/map", { query: { from: p.from, to: p.to } }),
      ]);
      clear(status);
      await Promise.all([
        rates.draw(ratesData(trend, grain.value)),
        durations.draw(durationsData(trend, grain.value)),
        categories.draw(categoryData(byCategory, app)),
        hourly.draw(hourlyData(calls)),
        map.draw(mapData(points)),
      ]);
      el.dataset.loaded = `${p.from}/${p.to}/${grain.value}`;
    } catch (err) {
      clear(status, errorLine(err));
    }
  }

  return { el, load, targets: () => targets };
}
