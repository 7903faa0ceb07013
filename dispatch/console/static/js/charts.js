// Charts for the 督办 dashboard and the monthly report: Apache ECharts (vendored, see
// vendor/echarts/VENDOR.md), loaded the first time a chart is drawn. Every chart is drawn from
// a small table ({columns, rows}) that its 表格 toggle shows as it is, so chart and table always
// hold the same figures. Tooltips are drawn on the canvas (renderMode "richText"): ECharts' HTML
// tooltips carry inline styles, which the console's CSP refuses.

import { clear, fmtMinutes, h } from "./ui.js";

let loading = null;
/** The ECharts module (one download, shared). */
export function loadECharts() {
  loading ||= import("../vendor/echarts/echarts.esm.min.js");
  return loading;
}

export const COLORS = ["#1f6feb", "#2da44e", "#bf8700", "#8250df", "#cf222e", "#57606a"];
export const BASE = {
  animation: false,
  color: COLORS,
  textStyle: { fontFamily: "system-ui, sans-serif" },
  tooltip: { renderMode: "richText", confine: true },
  aria: { enabled: true },
};

/** A value of a column kind as the console shows it: 98.0 %, 12 分钟, 1,234. */
export function fmtValue(kind, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (kind === "rate") return `${(value * 100).toFixed(1)} %`;
  if (kind === "minutes") return fmtMinutes(value);
  if (kind === "score") return value.toFixed(2);
  if (typeof value === "number") return value.toLocaleString("zh-CN");
  return String(value);
}

/** The figures of a chart as a table; rows are clickable when the chart is. */
export function dataTable({ columns, rows }, onRow) {
  return h(
    "div.table-wrap",
    h(
      "table.chart-table",
      h(
        "thead",
        h(
          "tr",
          columns.map(([key, label]) => h("th", { scope: "col", title: key }, label)),
        ),
      ),
      h(
        "tbody",
        rows.map((row, i) =>
          h(
            "tr",
            { class: onRow ? "clickable" : null, onclick: onRow ? () => onRow(row, i) : null },
            columns.map(([key, , kind], c) =>
              h(c === 0 ? "th" : "td.num", c === 0 ? { scope: "row" } : null, fmtValue(kind, row[key])),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * A chart with its 表格 toggle. spec: {name, title, note?, height?, data: {columns, rows},
 * option(echarts, data, el) → ECharts option, onPick?(row, seriesName), after?(chart, echarts)}.
 * onPick is called with the row behind a clicked bar or point (or table row).
 */
export function chartCard(spec) {
  const canvas = h("div.chart", { dataset: { chart: spec.name }, role: "img", "aria-label": spec.title });
  if (spec.height) canvas.classList.add(`chart-${spec.height}`);
  const tableBox = h("div.chart-data", { hidden: true });
  const toggle = h(
    "button.ghost.small.table-toggle",
    { type: "button", "aria-pressed": "false", title: "以表格显示同样的数字" },
    "表格",
  );
  const el = h(
    "figure.chart-card",
    { dataset: { chart: spec.name } },
    h("figcaption", h("span.chart-title", spec.title), spec.note ? h("span.muted.small", spec.note) : null, toggle),
    canvas,
    tableBox,
  );
  let chart = null;
  let data = spec.data;

  toggle.addEventListener("click", () => {
    const showTable = tableBox.hidden;
    tableBox.hidden = !showTable;
    canvas.hidden = showTable;
    toggle.setAttribute("aria-pressed", String(showTable));
    toggle.textContent = showTable ? "图表" : "表格";
    if (!showTable) chart?.resize();
  });

  async function draw(next = data) {
    data = next;
    clear(tableBox, dataTable(data, spec.onPick ? (row) => spec.onPick(row) : null));
    const echarts = await loadECharts();
    if (!chart) {
      chart = echarts.init(canvas, null, { renderer: "canvas" });
      if (spec.onPick)
        chart.on("click", (p) => {
          const row = data.rows[p.dataIndex];
          if (row) spec.onPick(row, p.seriesName);
        });
    }
    chart.setOption({ ...BASE, ...spec.option(data, canvas) }, { notMerge: true });
    spec.after?.(chart, data);
    el.dataset.ready = "true";
  }

  return {
    el,
    draw,
    resize: () => chart?.resize(),
    get chart() {
      return chart;
    },
  };
}

/** A target as a dashed line on a rate chart. */
export function targetLine(value, label, n = 0) {
  if (value === null || value === undefined) return undefined;
  // Targets lie close together: their labels take turns at the two ends, above and below.
  const position = ["insideEndTop", "insideStartBottom", "insideStartTop", "insideEndBottom"][n % 4];
  return {
    silent: true,
    symbol: "none",
    lineStyle: { type: "dashed", color: "#cf222e", opacity: 0.7 },
    label: { formatter: `${label} ${(value * 100).toFixed(1)} %`, position, fontSize: 10 },
    data: [{ yAxis: value }],
  };
}

/** Draw an option once, off screen at a fixed size, and hand back a PNG (the monthly report). */
export async function chartImage(option, { width = 720, height = 300 } = {}) {
  const echarts = await loadECharts();
  const holder = h("div.offscreen-chart");
  holder.style.width = `${width}px`;
  holder.style.height = `${height}px`;
  document.body.append(holder);
  const chart = echarts.init(holder, null, { renderer: "canvas", width, height });
  try {
    chart.setOption({ ...BASE, ...option });
    return chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
  } finally {
    chart.dispose();
    holder.remove();
  }
}
