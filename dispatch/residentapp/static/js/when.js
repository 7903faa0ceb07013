// When the resident would like the visit: 尽快, or a morning or an afternoon, today, tomorrow or
// a day they pick. Times are the phone's local time, sent with its offset.

import { el, isoLocal, show } from "./dom.js";

const HALVES = [
  { name: "上午", from: 8, to: 12 },
  { name: "下午", from: 14, to: 18 },
];
const DAY_NAMES = ["今天", "明天", "后天"];
const PICK_DAYS = 30;

function dayAt(offset) {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() + offset);
  return d;
}

function windowOn(day, half, label) {
  const from = new Date(day);
  from.setHours(half.from);
  const to = new Date(day);
  to.setHours(half.to);
  return { from: isoLocal(from), to: isoLocal(to), label };
}

/** The ready-made choices: 尽快, then the halves of today still ahead, tomorrow and the day after. */
function choices() {
  const now = new Date();
  const out = [{ from: null, to: null, label: "尽快，时间不限" }];
  DAY_NAMES.forEach((dayName, offset) => {
    for (const half of HALVES) {
      const w = windowOn(dayAt(offset), half, `${dayName}${half.name}`);
      if (new Date(w.to) - now > 60 * 60 * 1000) out.push(w); // at least an hour of it left
    }
  });
  return out;
}

/** The time step's body over `draft.window`; `changed(fields)` records the choice. */
export function windowPicker(draft, changed) {
  const chips = el("div", { class: "chips", role: "group", "aria-label": "上门时间" });
  const dateInput = el("input", {
    id: "visit-date",
    type: "date",
    min: isoLocal(dayAt(0)).slice(0, 10),
    max: isoLocal(dayAt(PICK_DAYS)).slice(0, 10),
  });
  const halves = el("div", { class: "chips" });
  const own = el("div", { class: "stack", hidden: true }, el("label", { for: "visit-date" }, "日期"), dateInput, halves);
  const more = el("button", { type: "button", class: "chip" }, "选择其他日期");

  const pick = (w) => {
    changed({ window: w });
    render();
  };
  const chip = (w) =>
    el(
      "button",
      { type: "button", class: "chip", "aria-pressed": String(draft.window?.label === w.label), onclick: () => pick(w) },
      w.label,
    );
  const render = () => {
    show(chips, choices().map(chip), more);
    const [year, month, date] = dateInput.value.split("-").map(Number);
    show(
      halves,
      year
        ? HALVES.map((half) => chip(windowOn(new Date(year, month - 1, date), half, `${month}月${date}日${half.name}`)))
        : el("p", { class: "hint" }, "先选日期，再选上午或下午"),
    );
  };
  more.addEventListener("click", () => {
    own.hidden = false;
    dateInput.focus();
  });
  dateInput.addEventListener("change", render);
  render();
  return el("div", { class: "stack" }, chips, own);
}
