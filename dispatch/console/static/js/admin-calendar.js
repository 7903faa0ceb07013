// 管理 › 工作日历: the working-day calendar a month at a time; a day can be set by hand, and a day
// set by hand handed back to the official calendar. The yearly part (how far the official holidays
// are entered, a holiday period in one form, each year's confirmation and CSV) is admin-calendar-schedule.js.

import { api } from "./api.js";
import { clear, empty, errorLine, h, toast, ymd } from "./ui.js";
import { field, onSubmit } from "./admin-kit.js";
import { calendarSchedule } from "./admin-calendar-schedule.js";

const WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"];
const SOURCE_LABELS = {
  "chinese-calendar": "国务院节假日安排",
  manual: "手工设置",
  weekday: "默认（周一至周五上班）",
};

export function calendarSection(app, go) {
  let params = {};
  let rows = new Map(); // yyyy-mm-dd → the API's day, for the days differing from plain Mon–Fri
  let loadedMonth = null;
  let abort = null;
  let restored = null; // the day last handed back to the official calendar, as the server answered

  const monthInput = h("input", { type: "month", "aria-label": "月份", required: true });
  const monthOf = () => params.month || ymd(new Date()).slice(0, 7);
  const shift = (n) => {
    const [y, m] = monthOf().split("-").map(Number);
    go({ month: ymd(new Date(y, m - 1 + n, 1)).slice(0, 7) });
  };
  monthInput.addEventListener("change", () => monthInput.value && go({ month: monthInput.value }));
  const grid = h("div.cal-grid", { role: "grid" });
  const error = h("div");
  const dayPane = h("section.card.cal-day");
  const schedule = calendarSchedule(app, {
    showMonth: (month) => go({ month }),
    onDaysChanged: () => load(),
  });
  const el = h(
    "div.admin-cal",
    schedule.coverageLine,
    h(
      "section.card",
      h("h2", { title: "GET /api/v1/calendar" }, "工作日历"),
      h(
        "div.filters",
        h("button", { type: "button", onclick: () => shift(-1) }, "‹ 上月"),
        monthInput,
        h("button", { type: "button", onclick: () => shift(1) }, "下月 ›"),
        h("button.ghost", { type: "button", onclick: () => go({}) }, "本月"),
        h(
          "span.cal-legend",
          h("span.cal-key.off", "休"),
          "休息日",
          h("span.cal-key.holiday", "休"),
          "节假日",
          h("span.cal-key.makeup", "班"),
          "调休上班",
          h("span.cal-key.manual", "手"),
          "手工设置",
        ),
      ),
      error,
      grid,
    ),
    h("div.cal-side", dayPane, schedule.periodCard),
    schedule.yearsCard,
  );

  async function load() {
    abort?.abort();
    abort = new AbortController();
    const month = monthOf();
    const [y, m] = month.split("-").map(Number);
    clear(error);
    try {
      const query = { from: ymd(new Date(y, m - 1, 1)), to: ymd(new Date(y, m, 0)) };
      const { items } = await api("/api/v1/calendar", { query, signal: abort.signal });
      rows = new Map(items.map((d) => [d.day, d]));
      loadedMonth = month;
      render();
      renderDay();
    } catch (err) {
      if (err.name !== "AbortError") clear(error, errorLine(err));
    }
  }

  function dayInfo(day) {
    const [y, m, d] = day.split("-").map(Number);
    const weekend = [0, 6].includes(new Date(y, m - 1, d).getDay());
    const row = rows.get(day);
    const working = row ? row.is_workday : !weekend;
    let kind = working ? "work" : "off";
    if (row && !working && !weekend) kind = "holiday";
    if (row && working && weekend) kind = "makeup";
    return { day, weekend, row, working, kind };
  }

  function render() {
    const [y, m] = loadedMonth.split("-").map(Number);
    const first = new Date(y, m - 1, 1);
    const lead = (first.getDay() + 6) % 7; // Monday first
    const count = new Date(y, m, 0).getDate();
    const today = ymd(new Date());
    const cells = [];
    for (let i = 0; i < lead; i++) cells.push(h("span.cal-cell.blank"));
    for (let d = 1; d <= count; d++) {
      const info = dayInfo(ymd(new Date(y, m - 1, d)));
      const classes = ["cal-cell", info.kind];
      if (info.day === today) classes.push("today");
      if (info.day === params.day) classes.push("selected");
      if (info.row?.source === "manual") classes.push("pinned");
      cells.push(
        h(
          `button.${classes.join(".")}`,
          {
            type: "button",
            title: `${info.day} ${info.working ? "工作日" : "休息日"}${info.row?.name ? ` · ${info.row.name}` : ""}`,
            "aria-pressed": String(info.day === params.day),
            onclick: () => go({ month: loadedMonth, day: info.day }),
          },
          h("span.cal-num", String(d)),
          info.kind === "holiday" || info.kind === "makeup" || (info.row && !info.working)
            ? h("span.cal-tag", info.working ? "班" : "休")
            : null,
          info.row?.name ? h("span.cal-name", info.row.name) : null,
        ),
      );
    }
    clear(
      grid,
      WEEKDAYS.map((w) => h("span.cal-head", w)),
      cells,
    );
  }

  function renderDay() {
    const day = params.day;
    if (!day || !day.startsWith(loadedMonth)) {
      return clear(
        dayPane,
        h("h2", "设置某一天"),
        empty("点选日历中的一天，把它设为工作日或休息日（如临时调整的节假日、调休上班）。"),
        monthSummary(),
      );
    }
    const info = dayInfo(day);
    const [y, m, d] = day.split("-").map(Number);
    const weekday = WEEKDAYS[(new Date(y, m - 1, d).getDay() + 6) % 7];
    const working = h("input", { type: "radio", name: "is_workday", value: "true", checked: info.working });
    const resting = h("input", { type: "radio", name: "is_workday", value: "false", checked: !info.working });
    const name = h("input", {
      name: "name",
      maxLength: 50,
      value: info.row?.name || "",
      placeholder: "如 春节、国庆节调休、防汛停工",
      autocomplete: "off",
    });
    const errorBox = h("div.form-error");
    const source = SOURCE_LABELS[info.row?.source || "weekday"] || info.row.source;
    // A day set by hand can be handed back: the official calendar (or plain Mon–Fri) applies again.
    const restore =
      info.row?.source === "manual"
        ? h(
            "button",
            { type: "button", title: `DELETE /api/v1/calendar/${day}: back to the official calendar` },
            "恢复法定安排",
          )
        : null;
    restore?.addEventListener("click", async () => {
      restore.disabled = true;
      clear(errorBox);
      try {
        const back = await api(`/api/v1/calendar/${day}`, { method: "DELETE" });
        restored = back;
        toast(`${back.day} 已恢复法定安排：${dayText(back)}`, { kind: "ok" });
        load();
      } catch (err) {
        clear(errorBox, errorLine(err));
        restore.disabled = false;
      }
    });
    const result =
      restored?.day === day && info.row?.source !== "manual"
        ? h("p.info", { role: "status" }, `已恢复法定安排：${dayText(restored)}`)
        : null;
    const form = h(
      "form.admin-form",
      h("h2", `${y}年${m}月${d}日 周${weekday}`),
      h(
        "dl.facts",
        h("dt", "当前"),
        h("dd", info.working ? "工作日" : "休息日", info.row?.name ? ` · ${info.row.name}` : ""),
        h("dt", "依据"),
        h("dd", { title: info.row?.source || "weekday rule" }, source),
      ),
      h("div.row", h("label.check", working, "工作日"), h("label.check", resting, "休息日")),
      field("名称", name, "显示在日历上，可空"),
      result,
      h(
        "div.row",
        h("button.primary", { type: "submit" }, "保存"),
        restore,
        h("button.ghost", { type: "button", onclick: () => go({ month: loadedMonth }) }, "取消"),
      ),
      errorBox,
      h(
        "p.hint",
        "只影响此后新建工单的时限，已下达工单的时限不变。手工设置的日期不会被节假日数据更新覆盖，" +
          "需要时可“恢复法定安排”。",
      ),
    );
    onSubmit(form, errorBox, {
      save: async () => {
        const isWorkday = working.checked;
        const saved = await api(`/api/v1/calendar/${day}`, {
          method: "PUT",
          body: { is_workday: isWorkday, name: name.value.trim() },
        });
        restored = null;
        toast(`${saved.day} 已设为${saved.is_workday ? "工作日" : "休息日"}`, { kind: "ok" });
        load();
      },
    });
    clear(dayPane, form);
  }

  /** "休息日 · 国庆节，依据国务院节假日安排": a day as the API answered it. */
  function dayText(d) {
    const name = d.name ? ` · ${d.name}` : "";
    return `${d.is_workday ? "工作日" : "休息日"}${name}，依据${SOURCE_LABELS[d.source] || d.source}`;
  }

  /** The month's special days as a list (easier to scan than the grid for a long holiday). */
  function monthSummary() {
    const special = [...rows.values()];
    if (!special.length) return h("p.muted.small", "本月没有节假日或调休。");
    return h(
      "ul.cal-list",
      special.map((r) =>
        h(
          "li",
          h("a", { href: `#/admin?section=calendar&month=${loadedMonth}&day=${r.day}` }, r.day.slice(5)),
          h(r.is_workday ? "span.cal-key.makeup" : "span.cal-key.holiday", r.is_workday ? "班" : "休"),
          r.name || "",
          r.source === "manual" ? h("span.muted.small", "（手工）") : null,
        ),
      ),
    );
  }

  let scheduleLoaded = false;
  return {
    el,
    show(next) {
      params = next;
      if (!scheduleLoaded) {
        scheduleLoaded = true;
        schedule.load();
      }
      monthInput.value = monthOf();
      if (loadedMonth !== monthOf()) {
        // Until the new month arrives, the day form must not offer the previous month's day.
        loadedMonth = null;
        clear(dayPane, h("h2", "设置某一天"), h("p.muted", "加载中…"));
        load();
      } else {
        render();
        renderDay();
      }
    },
  };
}
