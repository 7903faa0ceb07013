// The supervisor metrics (DESIGN.md "Supervisor metrics") as tables: labels in Chinese with the
// API's names as tooltips, rates as percentages, durations in minutes/hours/days. Metrics the
// API adds later appear under "其他" rather than disappearing.

import { clear, empty, fmtMinutes, h } from "./ui.js";

// [key, 中文, kind] in the order of DESIGN.md "Supervisor metrics"; kind picks the formatting.
const SECTIONS = [
  [
    "工单",
    [
      ["received", "受理量", "count"],
      ["cancelled", "撤销", "count"],
      ["completed", "办结", "count"],
      ["completed_on_time", "按时办结", "count"],
      ["closure_rate", "办结率", "rate"],
      ["on_time_rate", "按时办结率", "rate"],
      ["reopened", "重办", "count"],
      ["reopen_rate", "重办率", "rate"],
    ],
  ],
  [
    "派单与签收",
    [
      ["offers", "派单次数", "count"],
      ["offers_accepted", "签收", "count"],
      ["offers_accepted_on_time", "及时签收", "count"],
      ["offers_returned", "退单及超时", "count"],
      ["sign_on_time_rate", "及时签收率", "rate"],
      ["return_rate", "退单率", "rate"],
    ],
  ],
  [
    "评价",
    [
      ["ratings", "评价数", "count"],
      ["ratings_satisfied", "满意", "count"],
      ["satisfaction_rate", "满意率", "rate"],
      ["avg_rating", "平均评分", "score"],
    ],
  ],
  [
    "时效",
    [
      ["mean_minutes_to_accept", "平均签收用时", "minutes"],
      ["p90_minutes_to_accept", "签收用时 P90", "minutes"],
      ["mean_minutes_to_arrive", "平均到场用时", "minutes"],
      ["p90_minutes_to_arrive", "到场用时 P90", "minutes"],
      ["mean_minutes_to_complete", "平均办结用时", "minutes"],
      ["p90_minutes_to_complete", "办结用时 P90", "minutes"],
    ],
  ],
  [
    "话务",
    [
      ["calls_inbound", "呼入", "count"],
      ["calls_answered", "接通", "count"],
      ["calls_answered_15s", "15 秒内接通", "count"],
      ["calls_abandoned", "放弃", "count"],
      ["calls_repeat", "重复来电", "count"],
      ["answer_rate", "接通率", "rate"],
      ["answered_15s_rate", "15 秒接通率", "rate"],
      ["abandon_rate", "放弃率", "rate"],
      ["repeat_call_rate", "重复来电率", "rate"],
    ],
  ],
  [
    "回拨",
    [
      ["callbacks", "需回拨来电", "count"],
      ["callbacks_called_on_time", "按时回拨", "count"],
      ["callbacks_never_called", "未回拨", "count"],
      ["callback_on_time_rate", "按时回拨率", "rate"],
    ],
  ],
];
const METRICS = new Map(SECTIONS.flatMap(([, list]) => list.map(([key, label, kind]) => [key, { label, kind }])));
const HEADLINE = [
  "closure_rate",
  "on_time_rate",
  "sign_on_time_rate",
  "return_rate",
  "satisfaction_rate",
  "avg_rating",
  "answer_rate",
  "abandon_rate",
  "callback_on_time_rate",
];
const GROUP_COLUMNS = [
  "received",
  "cancelled",
  "completed",
  "closure_rate",
  "on_time_rate",
  "sign_on_time_rate",
  "return_rate",
  "reopen_rate",
  "satisfaction_rate",
  "avg_rating",
  "mean_minutes_to_complete",
];
const CALL_COLUMNS = ["calls_inbound", "answer_rate", "abandon_rate"];
const NOT_METRICS = new Set(["from", "to", "satisfied_min_stars", "group_by", "groups", "key", "label"]);
export const GROUP_BY = [
  ["", "不分组"],
  ["category", "按类别"],
  ["item", "按事项"],
  ["provider", "按服务商"],
  ["community", "按社区"],
  ["day", "按日"],
];

function fmt(key, value) {
  if (value === null || value === undefined) return "—";
  const kind = METRICS.get(key)?.kind;
  if (kind === "rate") return `${(value * 100).toFixed(1)}%`;
  if (kind === "minutes") return fmtMinutes(value);
  if (kind === "score") return value.toFixed(2);
  return typeof value === "number" ? value.toLocaleString("zh-CN") : String(value);
}

/** The summary (overall: headline tiles and sectioned tables; grouped: one sortable table). */
export function kpiTables(data) {
  const box = h("div");
  let sort = null; // {key, dir} once a column header was clicked

  function periodNote(d) {
    return h(
      "p.muted.small",
      `统计区间 ${d.from.slice(0, 16).replace("T", " ")} 至 ${d.to.slice(0, 16).replace("T", " ")}（按受理时间，不含结束时刻）；满意 = ${d.satisfied_min_stars} 星及以上`,
    );
  }

  function renderKpis(d) {
    const extra = Object.keys(d).filter((k) => !NOT_METRICS.has(k) && !METRICS.has(k));
    clear(
      box,
      periodNote(d),
      h(
        "div.tiles",
        HEADLINE.filter((k) => k in d).map((k) =>
          h("div.tile", { title: k }, h("span.tile-value", fmt(k, d[k])), h("span.tile-label", METRICS.get(k).label)),
        ),
      ),
      h(
        "div.kpi-sections",
        SECTIONS.filter(([, list]) => list.some(([k]) => k in d)).map(([title, list]) =>
          h(
            "table.kpi-table",
            h("caption", title),
            h(
              "tbody",
              list
                .filter(([k]) => k in d)
                .map(([k, label]) => h("tr", h("th", { title: k, scope: "row" }, label), h("td.num", fmt(k, d[k])))),
            ),
          ),
        ),
        extra.length
          ? h(
              "table.kpi-table",
              h("caption", "其他"),
              h(
                "tbody",
                extra.map((k) => h("tr", h("th", { scope: "row" }, k), h("td.num", fmt(k, d[k])))),
              ),
            )
          : null,
      ),
    );
  }

  function renderGroups(d) {
    const columns = [...GROUP_COLUMNS, ...(d.groups.some((g) => "calls_inbound" in g) ? CALL_COLUMNS : [])];
    const order = sort || (d.group_by === "day" ? { key: "key", dir: 1 } : { key: "received", dir: -1 });
    const value = (g, k) => (k === "key" ? String(g.key ?? "") : (g[k] ?? -Infinity));
    const rows = [...d.groups].sort((a, b) => {
      const x = value(a, order.key);
      const y = value(b, order.key);
      return (x < y ? -1 : x > y ? 1 : 0) * order.dir;
    });
    const header = (key, label) =>
      h(
        "th",
        {
          scope: "col",
          title: key === "key" ? "点击排序" : `${key} · 点击排序`,
          "aria-sort": order.key === key ? (order.dir > 0 ? "ascending" : "descending") : null,
          onclick: () => {
            sort = { key, dir: order.key === key ? -order.dir : key === "key" ? 1 : -1 };
            renderGroups(d);
          },
        },
        label,
        order.key === key ? (order.dir > 0 ? " ▲" : " ▼") : "",
      );
    clear(
      box,
      periodNote(d),
      d.groups.length
        ? h(
            "div.table-wrap.tall",
            h(
              "table.group-table",
              h(
                "thead",
                h(
                  "tr",
                  header("key", GROUP_BY.find(([v]) => v === d.group_by)?.[1].replace("按", "") || "分组"),
                  columns.map((k) => header(k, METRICS.get(k)?.label || k)),
                ),
              ),
              h(
                "tbody",
                rows.map((g) =>
                  h(
                    "tr",
                    h("th", { scope: "row", title: String(g.key ?? "") }, g.label || (g.key ?? "（无）")),
                    columns.map((k) => h("td.num", fmt(k, g[k]))),
                  ),
                ),
              ),
            ),
          )
        : empty("该时间段没有数据"),
    );
  }

  if (data.groups) renderGroups(data);
  else renderKpis(data);
  return box;
}
