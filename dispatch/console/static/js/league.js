// 星级评价 (the star evaluation and league table) of a month or quarter, from
// GET /api/v1/stats/providers: ranked organisations or workers with their figures, star level
// and its change, 淘汰预警 and 暂停 marked, and the district's averages as the last row; the
// table and the whole summary as XLSX. Supervisors and admins see every row (a card of the 督办
// tab); an organisation admin sees their own organisation (or its workers) and the averages
// (their own 星级评价 tab).

import { api } from "./api.js";
import { fmtValue } from "./charts.js";
import { clear, empty, errorLine, h, saveDownload } from "./ui.js";

// [key, 中文, kind]
export const LEAGUE_COLUMNS = [
  ["orders", "工单", "count"],
  ["completed", "办结", "count"],
  ["closure_rate", "办结率", "rate"],
  ["on_time_rate", "按时办结率", "rate"],
  ["sign_on_time_rate", "及时签收率", "rate"],
  ["return_rate", "退单率", "rate"],
  ["reopen_rate", "重办率", "rate"],
  ["satisfaction_rate", "满意率", "rate"],
  ["avg_rating", "平均评分", "score"],
  ["complaints", "差评", "count"],
];
const KINDS = [
  ["organisation", "服务组织"],
  ["worker", "服务人员"],
];

function pad(n) {
  return String(n).padStart(2, "0");
}

/** The month before today (an evaluation is usually of a finished month): "2026-10". */
export function lastMonth(today = new Date()) {
  const d = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
}

/**
 * A month chooser ("2026-11", shown as 2026年11月) of this month and the 35 before it: a select
 * rather than <input type=month>, which Firefox shows as a plain text box and other browsers in
 * their own locale. An older `value` is kept as the first choice.
 */
export function monthSelect(value, attrs = {}, today = new Date()) {
  const months = Array.from({ length: 36 }, (_, n) => {
    const d = new Date(today.getFullYear(), today.getMonth() - n, 1);
    return [`${d.getFullYear()}-${pad(d.getMonth() + 1)}`, `${d.getFullYear()}年${d.getMonth() + 1}月`];
  });
  if (value && !months.some(([v]) => v === value)) {
    const [y, m] = value.split("-").map(Number);
    months.push([value, `${y}年${m}月`]);
  }
  const select = h(
    "select",
    attrs,
    months.map(([v, label]) => h("option", { value: v }, label)),
  );
  select.value = value;
  return select;
}

function starChange(change) {
  if (change === null || change === undefined) return h("span.muted.star-change", { title: "上期无星级" }, "新");
  if (change > 0) return h("span.star-change.up", { title: `比上期升 ${change}` }, `▲ ${change.toFixed(1)}`);
  if (change < 0) return h("span.star-change.down", { title: `比上期降 ${-change}` }, `▼ ${(-change).toFixed(1)}`);
  return h("span.star-change.same", { title: "与上期持平" }, "—");
}

/** The league table of one answer of /stats/providers (also printed in the monthly report). */
export function leagueTable(data) {
  const kindLabel = KINDS.find(([k]) => k === data.kind)?.[1] || "服务方";
  const stars = (v) => (v === null || v === undefined ? "—" : `${v.toFixed(1)} ★`);
  const row = (r) =>
    h(
      "tr",
      {
        class: [r.elimination_warning ? "warning" : "", r.suspended ? "suspended" : ""].filter(Boolean).join(" ") || null,
        dataset: { provider: r.provider_id },
      },
      h("td.num", r.rank ?? "—"),
      h(
        "th",
        { scope: "row" },
        r.name,
        data.kind === "worker" && r.organisation_name ? h("span.muted.small", ` · ${r.organisation_name}`) : null,
        r.elimination_warning
          ? h(
              "span.badge.elimination",
              { title: `星级连续 ${r.below_floor_periods} 期低于 ${data.floor} 星` },
              "淘汰预警",
            )
          : null,
        r.suspended ? h("span.badge.suspended", { title: "已暂停接单" }, "暂停") : null,
      ),
      LEAGUE_COLUMNS.map(([k, , kind]) => h("td.num", fmtValue(kind, r[k]))),
      h("td.num.nowrap", stars(r.star_level)),
      h("td.num.nowrap", starChange(r.star_change)),
    );
  const averages = data.averages || {};
  return h(
    "div.table-wrap",
    h(
      "table.league-table",
      h(
        "thead",
        h(
          "tr",
          h("th", { scope: "col" }, "排名"),
          h("th", { scope: "col" }, kindLabel),
          LEAGUE_COLUMNS.map(([k, label]) => h("th", { scope: "col", title: k }, label)),
          h("th", { scope: "col", title: "star_level" }, "星级"),
          h("th", { scope: "col", title: "star_change" }, "变化"),
        ),
      ),
      h("tbody", data.items.map(row)),
      h(
        "tfoot",
        h(
          "tr.averages",
          h("td"),
          h("th", { scope: "row" }, "全区平均"),
          LEAGUE_COLUMNS.map(([k, , kind]) => h("td.num", fmtValue(kind, averages[k]))),
          h("td.num.nowrap", stars(averages.star_level)),
          h("td"),
        ),
      ),
    ),
  );
}

export function createLeague(app) {
  const own = app.user.role === "org_admin";
  const grain = h(
    "select",
    { "aria-label": "评价周期" },
    h("option", { value: "month" }, "月度"),
    h("option", { value: "quarter" }, "季度"),
  );
  const month = monthSelect(lastMonth(), { "aria-label": "月份" });
  const year = h("input", { type: "number", "aria-label": "年份", min: 2000, max: 2100, size: 5, hidden: true });
  const quarter = h(
    "select",
    { "aria-label": "季度", hidden: true },
    [1, 2, 3, 4].map((q) => h("option", { value: q }, `第${q}季度`)),
  );
  const kind = h(
    "select",
    { "aria-label": "评价对象" },
    KINDS.map(([v, t]) => h("option", { value: v }, t)),
  );
  const downloads = h("span.export-link");
  const xlsx = h("button", { type: "button", title: "GET /api/v1/stats/providers.xlsx" }, "导出排名 XLSX");
  const form = h(
    "form.filters.league-filters",
    grain,
    month,
    year,
    quarter,
    kind,
    h("button.primary", { type: "submit" }, "查询"),
    own ? null : xlsx,
    downloads,
  );
  const box = h("div.league");
  const note = h(
    "p.muted.small",
    own
      ? "本机构（或本机构服务人员）的评价与全区平均；其他机构的排名不显示。"
      : "按星级排名；连续多期星级低于淘汰线的标为“淘汰预警”，暂停接单的标为“暂停”。",
  );
  const el = h("div.league-screen", form, note, box);

  const [y, m] = lastMonth().split("-").map(Number);
  year.value = y;
  quarter.value = Math.ceil(m / 3);

  function period() {
    if (grain.value === "month") return month.value;
    return `${year.value}-Q${quarter.value}`;
  }

  grain.addEventListener("change", () => {
    const q = grain.value === "quarter";
    month.hidden = q;
    year.hidden = !q;
    quarter.hidden = !q;
    form.requestSubmit();
  });
  kind.addEventListener("change", () => form.requestSubmit());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  xlsx.addEventListener("click", async () => {
    xlsx.disabled = true;
    clear(downloads, h("span.muted.small", "生成中…"));
    try {
      const response = await api("/api/v1/stats/providers.xlsx", {
        query: { period: period(), kind: kind.value },
        raw: true,
      });
      await saveDownload(response, downloads, "sanshe-league.xlsx");
    } catch (err) {
      clear(downloads, errorLine(err));
    } finally {
      xlsx.disabled = false;
    }
  });

  async function load() {
    if (!period() || !form.reportValidity()) return;
    clear(box, h("p.muted", "计算中…"));
    try {
      const data = await fetchLeague(period(), kind.value);
      clear(box, data.items.length || Object.keys(data.averages || {}).length ? leagueTable(data) : empty("该期没有评价数据"));
      box.dataset.period = data.period;
    } catch (err) {
      clear(box, errorLine(err));
    }
  }

  let first = null; // the first show loads; later ones keep what was chosen
  return { el, show: () => (first ||= load()) };
}

/** Every row of a period's table (pages of 500). */
export async function fetchLeague(period, kind) {
  const first = await api("/api/v1/stats/providers", { query: { period, kind, limit: 500 } });
  const items = [...first.items];
  while (items.length < first.total) {
    const next = await api("/api/v1/stats/providers", { query: { period, kind, limit: 500, offset: items.length } });
    if (!next.items.length) break;
    items.push(...next.items);
  }
  return { ...first, items };
}

/** The org admin's own tab (main.js). */
export function create(app) {
  const league = createLeague(app);
  const el = h("section.view.league-view", h("section.card", h("h2", { title: "GET /api/v1/stats/providers" }, "星级评价"), league.el));
  return { el, show: () => league.show() };
}
