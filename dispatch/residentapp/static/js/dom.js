// Building the screens: elements from plain values (text is never parsed as HTML), and the few
// formats a resident reads (dates and times in Chinese, a phone number in groups).

/**
 * el("button", {class: "big", onclick}, "text", child, [more]) → an element. Properties named
 * on… become listeners, `class` and `data` are handled, booleans set or drop an attribute,
 * everything else is an attribute; null, undefined and false children are left out.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "data") Object.assign(node.dataset, value);
    else if (name === "value" || name === "checked") node[name] = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...flatten(children));
  return node;
}

function flatten(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

/** Replace what `node` shows with `children`. */
export function show(node, ...children) {
  node.replaceChildren(...flatten(children));
  return node;
}

/** A screen's title, focused so a screen reader (and the eye) starts at the top of each screen. */
export function heading(text) {
  return el("h1", { tabindex: "-1", class: "screen-title" }, text);
}

/** A line of Chinese saying what went wrong (the server's message when it gave one). */
export function problem(err) {
  return el("p", { class: "problem", role: "alert" }, messageOf(err));
}

export function messageOf(err) {
  if (!err) return "";
  return err.zh || "出了点问题，请稍后再试";
}

/** fn(...) once typing has paused for `ms`. */
export function debounced(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A random UUID v4 for Idempotency-Key (crypto.randomUUID needs https; this works on plain http). */
export function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}

const two = (n) => String(n).padStart(2, "0");
const WEEKDAYS = "日一二三四五六";

/** "12月3日 周二 14:05" (this year) or "2025年12月3日 14:05", in the phone's own time zone. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const day = `${d.getMonth() + 1}月${d.getDate()}日`;
  const year = d.getFullYear() === new Date().getFullYear() ? "" : `${d.getFullYear()}年`;
  return `${year}${day} 周${WEEKDAYS[d.getDay()]} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** A preferred visit window in words: "12月3日 周二 08:00–12:00". */
export function windowText(from, to) {
  if (!from && !to) return "尽快，时间不限";
  if (!to) return `${when(from)} 以后`;
  if (!from) return `${when(to)} 以前`;
  const end = new Date(to);
  return `${when(from)}–${two(end.getHours())}:${two(end.getMinutes())}`;
}

/** A time with the phone's offset, as the API wants it: 2026-12-03T08:00:00+08:00. */
export function isoLocal(d) {
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:00`;
  return `${date}T${time}${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

/** 13911000001 → "139 1100 0001"; a +86 number loses its country code first. */
export function phoneText(phone) {
  const digits = String(phone || "").replace(/^\+86/, "").replace(/\D/g, "");
  return digits.length === 11 ? `${digits.slice(0, 3)} ${digits.slice(3, 7)} ${digits.slice(7)}` : phone || "";
}
