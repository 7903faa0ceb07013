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

/**
 * fn() once things have been quiet for `wait` ms, but at least every `maxWait` ms while calls
 * keep coming: for refreshing a screen on live events, which arrive in bursts.
 */
export function coalesce(fn, { wait = 400, maxWait = 2000 } = {}) {
  let timer = null;
  let first = 0;
  return () => {
    const now = Date.now();
    if (!timer) first = now;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        timer = null;
        fn();
      },
      Math.max(0, Math.min(wait, first + maxWait - now)),
    );
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

/** The words to show for a failure: the server's Chinese message, else its detail. */
export function errorText(err) {
  if (!err) return "";
  return err.zh || err.detail || err.message || String(err);
}

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

/**
 * An API error as one plain line: the Chinese message (or the detail when there is none) and, in
 * a tooltip, the code and the English detail for whoever reports it.
 */
export function errorLine(err) {
  if (!err) return null;
  const text = errorText(err);
  const title = err.code ? `${err.code} (HTTP ${err.status})${err.zh && err.detail ? `: ${err.detail}` : ""}` : null;
  return h("p.error", { role: "alert", title }, text);
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
export const CALLBACK_REASONS = { missed: "未接来电", abandoned: "放弃来电", voicemail: "语音留言" };
/** How a call or a callback ended for the centre (CallOutcome). */
export const OUTCOME_LABELS = {
  order: "生成工单",
  answered: "咨询已答复",
  wrong_number: "打错电话",
  nuisance: "骚扰电话",
  duplicate: "重复来电",
  unreachable: "多次未接通",
};
export const RATING_OUTCOMES = { rated: "已评价", unreachable: "未接通", declined: "拒绝评价" };
export const STAR_LABELS = { 5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意" };

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
          {
            title: "deadline_uncovered: 时限落在已录入的官方节假日安排之后，按周一至周五计算，请在录入新一年安排后核对",
          },
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

/**
 * A Chinese number in national format, for where the server gives only E.164 (the screen pop, a
 * resident's phones): "138 0013 8000"; landlines keep their trunk 0 ("010 6552 9988",
 * "0571 8888 1234"). Anything else is shown as it is.
 */
export function nationalPhone(e164) {
  if (!e164) return "";
  const m = /^\+86(\d+)$/.exec(e164);
  if (!m) return e164;
  const n = m[1];
  if (/^1\d{10}$/.test(n)) return `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
  const area = /^(10|2\d)/.test(n) ? 2 : 3; // Beijing and the 02x cities have two-digit area codes
  const local = n.slice(area);
  const split = local.length > 4 ? `${local.slice(0, local.length - 4)} ${local.slice(-4)}` : local;
  return `0${n.slice(0, area)} ${split}`;
}

/** A phone number as a tel: link (dials on a phone, harmless on a desktop), in national format. */
export function phoneLink(e164, national) {
  if (!e164) return h("span.muted", "—");
  return h("a.phone", { href: `tel:${e164}`, title: e164 }, national || nationalPhone(e164));
}

/**
 * Who acted, in Chinese: "operator:operator2" → "坐席 operator2", "system" → "系统",
 * "sms:+86…" → "短信 138 …", "provider:62" → "服务商 #62" (the caller may name it).
 */
export function actorLabel(actor) {
  if (!actor) return "系统";
  const [kind, name = ""] = actor.split(/:(.*)/s);
  if (kind === "system") return "系统";
  if (kind === "sms") return `短信 ${nationalPhone(name)}`;
  if (kind === "ivr") return `语音导航 ${nationalPhone(name)}`;
  if (kind === "web") return `居民网上 ${nationalPhone(name)}`;
  if (kind === "app") return `居民App ${nationalPhone(name)}`;
  if (kind === "open311") return `开放接口 ${name}`;
  if (kind === "cli") return "命令行";
  if (kind === "provider") return `服务商 #${name}`;
  return `${ROLE_LABELS[kind] || kind} ${name}`.trim();
}

/**
 * An order number as it is, its date part quiet and its day's sequence plain, so 0001 of today
 * and 0001 of another day are told apart at a glance (today's also says 今天).
 */
export function orderNumber(number) {
  const m = /^(\d{8}-)(\d+)$/.exec(number || "");
  if (!m) return h("span.order-no", number || "—");
  const today = m[1] === `${ymd(new Date()).replaceAll("-", "")}-`;
  return h(
    "span.order-no",
    h("span.order-day", m[1]),
    h("span.order-seq", m[2]),
    today ? h("span.today", { title: "今天受理" }, "今天") : null,
  );
}

export function empty(text) {
  return h("p.empty", text);
}

const downloads = new Map(); // a download box → the object URL it holds

/**
 * Save a file the API answered (a CSV export) under the name its Content-Disposition gives:
 * a link to it goes into `box` (to save it again) and is clicked once.
 */
export async function saveDownload(response, box, fallbackName) {
  const name = /filename="?([^";]+)"?/.exec(response.headers.get("Content-Disposition") || "")?.[1] || fallbackName;
  if (downloads.has(box)) URL.revokeObjectURL(downloads.get(box));
  const url = URL.createObjectURL(await response.blob());
  downloads.set(box, url);
  const link = h("a", { href: url, download: name }, name);
  clear(box, link);
  link.click();
}
