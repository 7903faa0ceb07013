// Small DOM and formatting helpers shared by the views, and the Chinese labels of API values.

/**
 * h("div.card", {onclick, title}, child, [children], "text") → an element.
 * Class names may follow the tag with dots; attributes starting with "on" become listeners;
 * null/false children are skipped; strings become text nodes (never parsed as HTML).
 */
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = [el.className, value].filter(Boolean).join(" ");
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A random UUID (v4). crypto.randomUUID exists only on https/localhost; this works on plain http. */
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// --- toasts and errors ------------------------------------------------------------------------

export function toast(text, { kind = "info", ms = 5000, onclick } = {}) {
  const box = document.getElementById("toasts");
  const el = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, text);
  if (onclick) {
    el.classList.add("clickable");
    el.addEventListener("click", () => {
      onclick();
      el.remove();
    });
  }
  box.append(el);
  setTimeout(() => el.remove(), ms);
}

/** An API error as one plain line: the message and, in a tooltip, the error code. */
export function errorLine(err) {
  if (!err) return null;
  const text = err.detail || err.message || String(err);
  return h("p.error", { role: "alert", title: err.code ? `${err.code} (HTTP ${err.status})` : null }, text);
}

// --- time --------------------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, "0");

/** "20:01" today, "11-23 20:01" this year, "2025-11-23 20:01" otherwise (browser local time). */
export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return hm;
  const md = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return d.getFullYear() === now.getFullYear() ? `${md} ${hm}` : `${d.getFullYear()}-${md} ${hm}`;
}

export function fullTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("zh-CN", { hour12: false });
}

/** A <time> element with the short form shown and the full one as a tooltip. */
export function timeEl(iso) {
  return h("time", { datetime: iso || "", title: fullTime(iso) }, fmtTime(iso));
}

/** "3 小时" / "2 天" / "15 分钟" for a number of minutes. */
export function fmtMinutes(minutes) {
  if (minutes === null || minutes === undefined) return "—";
  const m = Math.abs(minutes);
  if (m < 60) return `${Math.round(m)} 分钟`;
  if (m < 48 * 60) return `${(m / 60).toFixed(m < 600 ? 1 : 0)} 小时`;
  return `${(m / 1440).toFixed(1)} 天`;
}

/** A deadline with how long is left, red once it has passed. Closed orders show the time only. */
export function deadlineEl(iso, { open = true } = {}) {
  if (!iso) return h("span.muted", "—");
  const left = (new Date(iso).getTime() - Date.now()) / 60000;
  const el = h("span.deadline", timeEl(iso));
  if (open) {
    el.append(
      " ",
      h(left < 0 ? "span.late" : "span.muted", left < 0 ? `超时 ${fmtMinutes(left)}` : `剩 ${fmtMinutes(left)}`),
    );
  }
  return el;
}

/** Local midnight of a yyyy-mm-dd date as ISO 8601 with the browser's offset ("…T00:00:00+08:00"). */
export function localMidnight(day) {
  const [y, m, d] = day.split("-").map(Number);
  const date = new Date(y, m - 1, d);
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${day}T00:00:00${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

export function ymd(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

// --- labels -------------------------------------------------------------------------------------

export const ROLE_LABELS = {
  admin: "管理员",
  supervisor: "督办",
  operator: "坐席",
  org_admin: "机构管理员",
  worker: "服务人员",
};

export const STATUS_LABELS = {
  received: "已受理",
  offered: "待签收",
  accepted: "已签收",
  in_service: "服务中",
  completed: "已办结",
  closed: "已归档",
  cancelled: "已撤销",
};

export const OPEN_STATUSES = ["received", "offered", "accepted", "in_service"];

export const SUPERVISION_LABELS = { none: "", yellow: "黄牌", red: "红牌" };
export const PRIORITY_LABELS = { normal: "普通", urgent: "紧急", priority: "优先" };
export const CHANNEL_LABELS = { phone: "电话", ivr: "语音导航", sms: "短信", web: "网页", app: "App", visit: "上门" };
export const DISPOSITION_LABELS = { answered: "已接听", abandoned: "放弃", missed: "未接", voicemail: "留言" };

// Residents whose tags raise an order's priority (dispatch/orders/intake.py HIGH_RISK_TAGS).
const HIGH_RISK_TAGS = new Set(["独居老人", "高龄老人", "失能", "残疾", "特困"]);

export function statusBadge(status) {
  return h(`span.badge.status-${status}`, { title: status }, STATUS_LABELS[status] || status);
}

export function supervisionBadge(level) {
  if (!level || level === "none") return null;
  return h(`span.badge.sup-${level}`, { title: `supervision: ${level}` }, SUPERVISION_LABELS[level] || level);
}

export function orderBadges(o) {
  return [
    statusBadge(o.status),
    supervisionBadge(o.supervision),
    o.overdue ? h("span.badge.late", { title: "overdue" }, "超时") : null,
    o.priority === "urgent" ? h("span.badge.urgent", { title: "priority: urgent" }, "紧急") : null,
    o.supervisor_queue_reason && o.status === "received"
      ? h("span.badge.queue", { title: `supervisor queue: ${o.supervisor_queue_reason}` }, "待督办派单")
      : null,
    o.deadline_uncovered
      ? h(
          "span.badge.uncovered",
          { title: "deadline_uncovered: 时限落在已录入的官方节假日安排之后，按周一至周五计算，请在录入新一年安排后核对" },
          "时限待核（超出官方日历）",
        )
      : null,
  ];
}

export function tagChips(tags) {
  return (tags || []).map((t) =>
    h(HIGH_RISK_TAGS.has(t) ? "span.tag.risk" : "span.tag", { title: "vulnerability tag" }, t),
  );
}

export function stars(n) {
  if (!n) return h("span.muted", "—");
  return h("span.stars", { title: `${n} / 5` }, "★".repeat(n) + "☆".repeat(5 - n));
}

/** A phone number as a tel: link (dials on a phone, harmless on a desktop). */
export function phoneLink(e164) {
  if (!e164) return h("span.muted", "—");
  return h("a.phone", { href: `tel:${e164}` }, e164.replace(/^\+86/, ""));
}

export function empty(text) {
  return h("p.empty", text);
}
