// 管理 › 工作日历, the yearly part: how far the calendar follows the State Council's published
// holidays, a holiday period set in one form (as the notice lists it: the days off and the 调休
// working days), and each year's status with 确认已录入完整 / 撤销确认 and its CSV export and import.

import { api } from "./api.js";
import { clear, errorLine, fullTime, h, toast } from "./ui.js";
import { field, onSubmit } from "./admin-kit.js";
import { coverageText } from "./coverage.js";

const FESTIVALS = ["元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"];
const SOURCE_TEXT = {
  "chinese-calendar": "国务院安排（chinese-calendar 数据）",
  import: "导入",
  manual: "手工确认",
};

/**
 * showMonth(month): show that month in the grid; onDaysChanged(): the month's days changed.
 * Returns { coverageLine, periodCard, yearsCard, load }.
 */
export function calendarSchedule(app, { showMonth, onDaysChanged }) {
  let coverage = null;

  // --- coverage ----------------------------------------------------------------------------------
  const coverageLine = h("div.cal-coverage", { title: "GET /api/v1/calendar/coverage" });

  async function load() {
    try {
      coverage = await api("/api/v1/calendar/coverage");
    } catch (err) {
      clear(coverageLine, errorLine(err));
      return;
    }
    // The warning itself is in the banner above; here, what to do on this page.
    const next = Number(coverage.official_until.slice(0, 4)) + 1;
    clear(
      coverageLine,
      h(
        coverage.warning ? "p.warn" : "p.info",
        h("strong", `${coverageText(coverage)}。`),
        coverage.warning
          ? ` 之后的日期按周一至周五计算。请按国务院通知在“设置节假日”录入${next}年的各节假日和调休上班日` +
              `（或在“年度安排”导入 CSV），再确认${next}年已录入完整。`
          : null,
      ),
    );
    renderYears();
  }

  /** After a change to the years: this section, and the banner under the top bar. */
  function coverageChanged() {
    load();
    app.refreshCoverage?.();
  }

  // --- a holiday period in one form ----------------------------------------------------------------
  const name = h("input", {
    name: "name",
    required: true,
    maxLength: 20,
    list: "cal-festivals",
    autocomplete: "off",
    placeholder: "如 春节",
  });
  const start = h("input", { name: "start", type: "date", required: true });
  const end = h("input", { name: "end", type: "date", required: true });
  const workdayInput = h("input", { name: "workday", type: "date", "aria-label": "调休上班日" });
  const workdayList = h("div.row.cal-workdays");
  let workdays = [];

  function renderWorkdays() {
    clear(
      workdayList,
      workdays.length
        ? workdays.map((d) =>
            h(
              "span.chip",
              d,
              h(
                "button.x",
                { type: "button", title: `去掉 ${d}`, "aria-label": `去掉 ${d}`, onclick: () => removeWorkday(d) },
                "×",
              ),
            ),
          )
        : h("span.muted.small", "没有调休上班日"),
    );
  }
  function addWorkday() {
    const day = workdayInput.value;
    if (!day) return workdayInput.focus();
    if (!workdays.includes(day)) workdays = [...workdays, day].sort();
    workdayInput.value = "";
    renderWorkdays();
  }
  function removeWorkday(day) {
    workdays = workdays.filter((d) => d !== day);
    renderWorkdays();
  }
  workdayInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      addWorkday();
    }
  });

  const periodError = h("div.form-error");
  const periodForm = h(
    "form.admin-form.cal-period",
    h("h2", { title: "POST /api/v1/calendar/periods" }, "设置节假日"),
    h(
      "datalist",
      { id: "cal-festivals" },
      FESTIVALS.map((f) => h("option", { value: f })),
    ),
    field("名称", name, "如 春节、国庆节；调休上班日名为“春节调休”"),
    h("div.grid2", field("放假开始", start), field("放假结束", end)),
    h(
      "label",
      "调休上班日",
      h("div.row", workdayInput, h("button", { type: "button", onclick: addWorkday }, "添加调休日")),
      h("span.hint", "逐个添加通知中的调休上班日（周六或周日）"),
    ),
    workdayList,
    h("div.row", h("button.primary", { type: "submit" }, "保存节假日")),
    periodError,
    h(
      "p.hint",
      "按国务院办公厅的通知一次录入一个节假日：放假的每一天设为休息日，调休的周末设为工作日。" +
        "只影响此后新建工单的时限。",
    ),
  );
  onSubmit(periodForm, periodError, {
    check: () => end.setCustomValidity(end.value && end.value < start.value ? "放假结束不能早于放假开始" : ""),
    save: async () => {
      const body = { name: name.value.trim(), start: start.value, end: end.value, workdays };
      const { items } = await api("/api/v1/calendar/periods", { body });
      const off = items.filter((d) => !d.is_workday).length;
      toast(`已设置${body.name}：放假 ${off} 天，调休上班 ${items.length - off} 天`, { kind: "ok" });
      periodForm.reset();
      workdays = [];
      renderWorkdays();
      onDaysChanged();
      showMonth(body.start.slice(0, 7));
    },
  });
  renderWorkdays();
  const periodCard = h("section.card", periodForm);

  // --- the years -----------------------------------------------------------------------------------
  const yearsBody = h("tbody");
  const yearsError = h("div");
  const importBox = h("div");
  const fileInput = h("input", { type: "file", accept: ".csv,text/csv", hidden: true, "aria-label": "日历 CSV 文件" });
  let importYear = null;
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && importYear) askImport(importYear, file);
    fileInput.value = "";
  });

  const yearsCard = h(
    "section.card.cal-years",
    h("h2", "年度安排"),
    h(
      "p.hint",
      "国务院办公厅通常在每年 11 月前后发布下一年的节假日安排。按通知录入各节假日（或导入该年的 CSV）后，" +
        "确认该年已录入完整，工作日历才会延续到该年年底；未确认的年份按周一至周五计算。",
    ),
    yearsError,
    importBox,
    h("div.table-wrap", h("table", h("thead", h("tr", h("th", "年份"), h("th", "状态"), h("th", "操作"))), yearsBody)),
    fileInput,
  );

  function yearsShown() {
    const today = Number(coverage.today.slice(0, 4));
    const last = Math.max(Number(coverage.official_until.slice(0, 4)), today) + 1;
    const years = [];
    for (let y = today - 1; y <= last; y++) years.push(y);
    return years;
  }

  function renderYears() {
    const covered = new Map(coverage.years.map((y) => [y.year, y]));
    clear(
      yearsBody,
      yearsShown().map((year) => {
        const y = covered.get(year);
        const status = y
          ? h(
              "span",
              h("span.badge.on", "已确认"),
              ` ${SOURCE_TEXT[y.source] || y.source}`,
              y.confirmed_by ? h("span.muted.small", ` · ${y.confirmed_by} ${fullTime(y.confirmed_at)}`) : null,
            )
          : h("span", h("span.badge.off", "未确认"), h("span.muted.small", " 按周一至周五计算"));
        const button = (label, onclick, ghost = false) =>
          h(ghost ? "button.small.ghost" : "button.small", { type: "button", onclick }, label);
        const confirm = y ? null : button("确认已录入完整", (e) => setCovered(e.currentTarget, year, true));
        const undo =
          y && y.source !== "chinese-calendar"
            ? button("撤销确认", (e) => setCovered(e.currentTarget, year, false))
            : null;
        const pickFile = () => {
          importYear = year;
          fileInput.click();
        };
        return h(
          "tr",
          { dataset: { year } },
          h("td.nowrap", `${year}年`),
          h("td", status),
          h(
            "td",
            h(
              "div.row",
              confirm,
              undo,
              button("导出 CSV", (e) => exportYear(e.currentTarget, year), true),
              button("导入 CSV…", pickFile, true),
            ),
          ),
        );
      }),
    );
  }

  async function setCovered(button, year, covered) {
    button.disabled = true;
    clear(yearsError);
    try {
      await api(`/api/v1/calendar/years/${year}`, { method: covered ? "PUT" : "DELETE" });
      toast(covered ? `已确认 ${year} 年的节假日安排已录入完整` : `已撤销对 ${year} 年的确认`, { kind: "ok" });
      coverageChanged();
    } catch (err) {
      clear(yearsError, errorLine(err));
      button.disabled = false;
    }
  }

  async function exportYear(button, year) {
    button.disabled = true;
    clear(yearsError);
    try {
      const response = await api(`/api/v1/calendar/years/${year}.csv`, { raw: true });
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: `calendar-${year}.csv`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      clear(yearsError, errorLine(err));
    } finally {
      button.disabled = false;
    }
  }

  function askImport(year, file) {
    const go = h("button.primary.small", { type: "button" }, "导入");
    const cancel = h("button.small", { type: "button", onclick: () => clear(importBox) }, "取消");
    const error = h("div");
    go.addEventListener("click", async () => {
      go.disabled = true;
      clear(error);
      try {
        // The file is sent as it is (UTF-8 or GBK); the server checks every line.
        const out = await api(`/api/v1/calendar/years/${year}.csv`, {
          method: "POST",
          form: file,
          headers: { "Content-Type": "text/csv" },
        });
        toast(`已导入 ${year} 年的日历：${out.days} 天，其中 ${out.changed} 天有变化`, { kind: "ok" });
        clear(importBox);
        onDaysChanged();
        coverageChanged();
      } catch (err) {
        clear(error, errorLine(err));
        go.disabled = false;
      }
    });
    clear(
      importBox,
      h(
        "div.warn",
        h("p", `用 ${file.name} 替换 ${year} 年的工作日历？该年的手工设置将由文件中的日子取代，并确认该年已录入完整。`),
        h("div.row", go, cancel),
        error,
      ),
    );
  }

  return { coverageLine, periodCard, yearsCard, load };
}
