// 回拨 (the call centre's worklists): calls to return — missed, abandoned and voicemail — oldest
// first, each called back with one click and closed with an outcome; and 回访: completed orders
// waiting for the rating callback, each closed with one click (5–1 星, 未接通, 拒绝评价; 1–2 星 may
// reopen). The list shown and the open callback live in the URL (#/callbacks?list=closed&open=12).

import { api } from "./api.js";
import { allows } from "./actions.js";
import { UNREACHABLE_AFTER, outcomePicker } from "./outcomes.js";
import { pagedTable } from "./paged-table.js";
import { orderPhone, revealNumber, revealablePhone } from "./reveal.js";
import {
  CALLBACK_REASONS,
  OUTCOME_LABELS,
  STAR_LABELS,
  actorLabel,
  clear,
  deadlineEl,
  empty,
  errorLine,
  h,
  orderNumber,
  phoneLink,
  tagChips,
  timeEl,
  toast,
} from "./ui.js";

const PAGE = 25;
const LISTS = [
  ["open", "待回拨", "calls to return, oldest first"],
  ["rating", "待回访", "completed orders waiting for the rating callback, soonest due first"],
  ["closed", "已结案回拨", "closed callbacks, most recent first"],
];
// What 回拨 does, by the way the server placed the call (POST /api/v1/callbacks/{id}/call → via).
const VIA_TEXT = {
  asterisk: (ext) => `正在回拨：请接起分机${ext ? ` ${ext}` : ""}，随后自动接通居民`,
  twilio: () => "正在回拨：系统先呼叫您的电话，接起后自动接通居民",
  log: () => "未接入电话系统：已记为一次回拨，请用电话手工拨打",
};
// Why 生成工单 needs the caller's whole number (the order's caller_phone): kept in the access trail.
const ORDER_REASON = "回拨并登记工单";
const CLOSE_OUTCOMES = ["order", "answered", "wrong_number", "nuisance", "duplicate", "unreachable"];

/** Who closed it: "operator:operator1" → "坐席 operator1"; a bare name as it is. */
const who = (actor) => (!actor ? "—" : actor.includes(":") ? actorLabel(actor) : actor);

/** A button inside a row that opens its record: its click and Enter are its own. */
function rowButton(spec, attrs, ...children) {
  const button = h(spec, { type: "button", ...attrs }, ...children);
  button.addEventListener("click", (e) => e.stopPropagation());
  button.addEventListener("keydown", (e) => e.key === "Enter" && e.stopPropagation());
  return button;
}

export function create(app) {
  let params = {};
  let loaded = false;
  const known = new Map(); // callback id → the latest we have of it (list pages, call and close answers)
  const results = new Map(); // callback id → what the last 回拨 said
  const list = () => (LISTS.some(([k]) => k === params.list) ? params.list : "open");
  // An outcome form (or a 1–2 星 question) being filled in is never redrawn under the operator.
  const editing = () => Boolean(el.querySelector(".outcome-slot form, .reopen-ask"));

  const nav = h("div.segmented.worklist-nav", { role: "tablist" });
  const detailPane = h("section.card.detail-pane");
  const listBox = h("div");
  const el = h("section.view.callbacks", h("section.card.list-pane", nav, listBox), detailPane);

  let counts = {};
  function renderNav() {
    const current = list();
    const number = { open: counts.callbacks, rating: counts.ratings };
    clear(
      nav,
      LISTS.map(([key, label, en]) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            title: en,
            dataset: { list: key },
            "aria-selected": String(key === current),
            onclick: () => app.go("callbacks", { list: key === "open" ? "" : key }),
          },
          label,
          number[key] != null ? h("span.count", String(number[key])) : null,
        ),
      ),
    );
  }

  // --- callbacks waiting ---------------------------------------------------------------------------
  const remember = (items) => items.forEach((cb) => known.set(String(cb.id), cb));

  function residentCell(cb) {
    if (!cb.resident) return h("td.muted", "未登记");
    return h("td", h("span", cb.resident.name || "（未留姓名）"), " ", tagChips(cb.resident.tags));
  }

  /** The caller's number, masked, with 查看号码 (a reason, recorded). */
  function callerPhone(cb) {
    return h(
      "strong.phone-text",
      revealablePhone(cb.caller_national, { callback_id: cb.id }, { reason: "回拨来电" }),
    );
  }

  function reasonBadge(cb) {
    return h(`span.badge.disp-${cb.reason}`, { title: cb.reason }, CALLBACK_REASONS[cb.reason] || cb.reason);
  }

  function attemptsText(cb) {
    if (!cb.attempts) return h("span.muted", "未回拨");
    return h(
      "span",
      `${cb.attempts} 次`,
      cb.last_attempt_at ? h("span.muted.small", " · ", timeEl(cb.last_attempt_at)) : null,
    );
  }

  // What the two callback lists share: a row opens its callback, pages go into the URL, and a
  // loaded page updates what is known of each callback (and the detail, unless a form is open).
  const callbackTable = {
    open: (cb) => app.go("callbacks", { ...params, open: cb.id }),
    onPage: (offset) => app.go("callbacks", { ...params, offset }),
    onLoad: (items) => {
      remember(items);
      if (!editing()) renderDetail();
    },
    pageSize: PAGE,
  };

  const waiting = pagedTable({
    path: "/api/v1/callbacks",
    columns: ["来电号码", "居民", "原因", "来电", "首次来电", "回拨时限", "已回拨", ""],
    query: () => ({ status: "open" }),
    cells: (cb) => [
      h("td.nowrap.phone-cell", callerPhone(cb)),
      residentCell(cb),
      h("td.nowrap", reasonBadge(cb)),
      h(
        "td.nowrap",
        `${cb.call_count} 次`,
        cb.call_count > 1 ? h("span.muted.small", " · ", timeEl(cb.last_call_at)) : null,
      ),
      h("td.nowrap", timeEl(cb.created_at)),
      h("td.nowrap", cb.overdue ? h("span.late", timeEl(cb.due_at), " 已超时") : deadlineEl(cb.due_at)),
      h("td.nowrap", attemptsText(cb)),
      h(
        "td.nowrap",
        rowButton(
          "button.primary.small",
          { title: `回拨 ${cb.caller_national || cb.caller}`, onclick: () => callBack(cb, { open: true }) },
          "回拨",
        ),
      ),
    ],
    ...callbackTable,
    emptyText: "没有待回拨的来电",
    className: ".callbacks-table",
  });

  const closed = pagedTable({
    path: "/api/v1/callbacks",
    columns: ["来电号码", "居民", "原因", "结果", "结案", "经办"],
    query: () => ({ status: "closed" }),
    cells: (cb) => [
      h("td.nowrap.phone-cell", callerPhone(cb)),
      residentCell(cb),
      h("td.nowrap", reasonBadge(cb)),
      h("td", outcomeText(cb)),
      h("td.nowrap", timeEl(cb.closed_at)),
      h("td.nowrap.muted", who(cb.closed_by)),
    ],
    ...callbackTable,
    emptyText: "还没有结案的回拨",
    className: ".callbacks-table",
  });

  function outcomeText(cb) {
    return [
      h("span.badge.outcome", { title: cb.outcome }, OUTCOME_LABELS[cb.outcome] || cb.outcome || "—"),
      cb.order_id
        ? [" ", h("a", { href: `#/orders?open=${cb.order_id}` }, orderNumber(cb.order_number || String(cb.order_id)))]
        : null,
      cb.note ? h("div.muted.small", cb.note) : null,
    ];
  }

  /** 回拨: ring the operator's phone, then the caller's (counts an attempt). */
  async function callBack(cb, { open = false } = {}) {
    results.set(String(cb.id), { pending: true });
    if (open && params.open !== String(cb.id)) app.go("callbacks", { ...params, open: cb.id });
    else renderDetail();
    try {
      const r = await api(`/api/v1/callbacks/${cb.id}/call`, { method: "POST" });
      known.set(String(cb.id), r.callback);
      const text = (VIA_TEXT[r.via] || (() => "已发起回拨"))(app.user.extension);
      // No phone system: the server answers the number to dial (and records that it did).
      results.set(String(cb.id), { text, title: r.detail || r.via, dial: r.dial || null });
      toast(`${r.callback.caller_national || r.callback.caller}：${text}`, { kind: "ok" });
      waiting.refresh();
    } catch (err) {
      results.set(String(cb.id), { error: err });
    }
    renderDetail();
  }

  async function closeWith(cb, body) {
    const done = await api(`/api/v1/callbacks/${cb.id}/close`, { body });
    known.set(String(cb.id), done);
    toast(`${done.caller_national || done.caller}：已结案（${OUTCOME_LABELS[done.outcome] || done.outcome}）`, {
      kind: "ok",
    });
    app.counts?.refresh();
    app.go("callbacks", { ...params, open: "" });
  }

  /** 生成工单: the order needs the caller's whole number, revealed for that reason. */
  async function startOrder(cb) {
    let phone;
    try {
      phone = await revealNumber({ callback_id: cb.id }, ORDER_REASON);
    } catch (err) {
      results.set(String(cb.id), { error: err });
      renderDetail();
      return;
    }
    app.startOrder({
      phone: phone.e164,
      name: cb.resident?.name || "",
      residentId: cb.resident?.id ?? null,
      callback: { id: cb.id, reason: cb.reason },
    });
  }

  // --- one callback --------------------------------------------------------------------------------
  function renderDetail() {
    const id = params.open || "";
    el.classList.toggle("has-detail", Boolean(id) && list() !== "rating");
    if (!id || list() === "rating") return clear(detailPane);
    const cb = known.get(id);
    const close = h(
      "button.ghost.small.close",
      { type: "button", title: "关闭 (Esc)", onclick: () => app.go("callbacks", { ...params, open: "" }) },
      "← 返回列表",
    );
    if (!cb) {
      // Not on this page (a link from the screen pop, a colleague's list): ask for it by id.
      clear(detailPane, close, empty("正在读取回拨…"));
      api(`/api/v1/callbacks/${id}`)
        .then((found) => {
          known.set(id, found);
          if ((params.open || "") === id) renderDetail();
        })
        .catch((err) => clear(detailPane, close, errorLine(err)));
      return;
    }
    const isOpen = cb.status === "open";
    const result = results.get(id);
    const callButton = h(
      "button.primary",
      { type: "button", disabled: !isOpen || result?.pending, onclick: () => callBack(cb) },
      result?.pending ? "正在回拨…" : `${cb.attempts ? "再次回拨" : "回拨"} ${cb.caller_national || cb.caller}`,
    );
    clear(
      detailPane,
      h(
        "div.detail.callback-detail",
        h(
          "div.detail-head",
          close,
          h("h2", cb.caller_national || cb.caller),
          reasonBadge(cb),
          isOpen && cb.overdue ? h("span.badge.late", "已超时") : null,
          isOpen ? null : h("span.badge", "已结案"),
        ),
        h(
          "dl.facts",
          h("dt", "居民"),
          h(
            "dd",
            cb.resident
              ? [h("strong", cb.resident.name || "（未留姓名）"), " ", tagChips(cb.resident.tags)]
              : h("span.muted", "未登记的号码"),
          ),
          h("dt", "电话"),
          h(
            "dd",
            result?.dial
              ? phoneLink(result.dial.e164, result.dial.national)
              : revealablePhone(cb.caller_national, { callback_id: cb.id }, { reason: "回拨来电" }),
          ),
          h("dt", "首次来电"),
          h("dd", timeEl(cb.created_at)),
          cb.call_count > 1
            ? [h("dt", "来电次数"), h("dd", `${cb.call_count} 次，最近 `, timeEl(cb.last_call_at))]
            : null,
          isOpen ? [h("dt", "回拨时限"), h("dd", deadlineEl(cb.due_at))] : null,
          h("dt", "已回拨"),
          h("dd", attemptsText(cb)),
          cb.open_orders?.length
            ? [
                h("dt", "在办工单"),
                h(
                  "dd",
                  cb.open_orders.map((o) =>
                    h(
                      "div",
                      h("a", { href: `#/orders?open=${o.id}` }, orderNumber(o.number)),
                      " ",
                      app.itemName(o.item_code),
                    ),
                  ),
                ),
              ]
            : null,
          isOpen
            ? null
            : [
                h("dt", "结果"),
                h("dd", outcomeText(cb)),
                h("dt", "结案"),
                h("dd", timeEl(cb.closed_at), h("span.muted", ` ${who(cb.closed_by)}`)),
              ],
        ),
        cb.recording_url ? voicemail(cb) : null,
        isOpen ? h("div.row.call-back", callButton) : null,
        result?.text ? h("p.info.call-result", { title: result.title }, result.text) : null,
        result?.error ? errorLine(result.error) : null,
        isOpen ? h("h3", "结案") : null,
        isOpen
          ? outcomePicker({
              codes: CLOSE_OUTCOMES,
              openOrders: cb.open_orders || [],
              attempts: cb.attempts,
              itemName: app.itemName,
              onOrder: () => startOrder(cb),
              onSubmit: (body) => closeWith(cb, body),
            })
          : null,
        isOpen && cb.attempts < UNREACHABLE_AFTER
          ? h("p.hint", `多次未接通：回拨满 ${UNREACHABLE_AFTER} 次后可选（已回拨 ${cb.attempts} 次）`)
          : null,
      ),
    );
  }

  function voicemail(cb) {
    // The recording comes through the server (GET …/recording, signed in by header): the console
    // plays only its own origin, and carriers' recordings need the account's credentials.
    const note = h("span.muted.small", "正在读取录音…");
    const audio = h("audio", { controls: true, preload: "none" }, "浏览器无法播放录音");
    api(`/api/v1/callbacks/${cb.id}/recording`, { raw: true })
      .then((response) => response.blob())
      .then((blob) => {
        audio.src = URL.createObjectURL(blob);
        note.textContent = "";
      })
      .catch((err) => {
        note.textContent = `录音无法在此播放：${err.message || "请点“打开录音”"}`;
      });
    return h(
      "div.voicemail",
      h("h3", "语音留言"),
      audio,
      h("div.row", h("a.small", { href: cb.recording_url, target: "_blank", rel: "noopener" }, "打开录音"), note),
    );
  }

  // --- rating callbacks (回访) --------------------------------------------------------------------
  function rateCell(o) {
    const cell = h("td.rate-cell");
    if (!allows(o, "rate")) return clear(cell, h("span.muted.small", "无回访权限"));
    const rate = async (body, button) => {
      for (const b of cell.querySelectorAll("button")) b.disabled = true;
      cell.querySelector(".error")?.remove();
      try {
        await api(`/api/v1/orders/${o.id}/rate`, { body });
        const what = body.stars
          ? `${body.stars} 星（${STAR_LABELS[body.stars]}）${body.reopen ? "，已重办" : ""}`
          : body.outcome === "unreachable"
            ? "未接通"
            : "拒绝评价";
        toast(`${o.number} 回访：${what}`, { kind: "ok" });
        app.counts?.refresh();
        ratings.refresh();
      } catch (err) {
        for (const b of cell.querySelectorAll("button")) b.disabled = false;
        cell.append(errorLine(err));
        button?.focus();
      }
    };
    const buttons = () => [
      h(
        "span.star-buttons",
        { role: "group", "aria-label": "满意度" },
        [5, 4, 3, 2, 1].map((n) =>
          rowButton(
            n <= 2 ? "button.small.low" : "button.small",
            {
              title: `${n} 星：${STAR_LABELS[n]}`,
              "aria-label": `${n} 星 ${STAR_LABELS[n]}`,
              onclick: (e) => (n <= 2 ? askReopen(n) : rate({ stars: n }, e.currentTarget)),
            },
            `${n}★`,
          ),
        ),
      ),
      rowButton(
        "button.small.ghost",
        { title: "多次拨打无人接听", onclick: (e) => rate({ outcome: "unreachable" }, e.currentTarget) },
        "未接通",
      ),
      rowButton(
        "button.small.ghost",
        { title: "居民不愿评价", onclick: (e) => rate({ outcome: "declined" }, e.currentTarget) },
        "拒绝评价",
      ),
    ];
    // 1–2 星: the resident may want the work done again (重办).
    const askReopen = (n) => {
      const again = rowButton(
        "button.danger.small",
        { onclick: (e) => rate({ stars: n, reopen: true }, e.currentTarget) },
        "评价并重办",
      );
      clear(
        cell,
        h(
          "div.reopen-ask",
          h("span", `${n} 星（${STAR_LABELS[n]}）：居民要求重办吗？`),
          again,
          rowButton("button.small", { onclick: (e) => rate({ stars: n }, e.currentTarget) }, "仅评价"),
          rowButton("button.ghost.small", { onclick: () => clear(cell, buttons()) }, "取消"),
        ),
      );
      again.focus();
    };
    return clear(cell, buttons());
  }

  const ratings = pagedTable({
    path: "/api/v1/orders",
    columns: ["工单号", "服务事项", "居民", "联系电话", "办结", "回访时限", "回访结果"],
    query: () => ({ queue: "callback" }),
    cells: (o) => [
      h("td.nowrap", h("a", { href: `#/orders?open=${o.id}`, title: "打开工单" }, orderNumber(o.number))),
      h("td", app.itemName(o.item_code)),
      h("td", o.resident ? [o.resident.name || "（未留姓名）", " ", tagChips(o.resident.tags)] : h("span.muted", "—")),
      h("td.nowrap.phone-cell", orderPhone(o, { reason: "回访评价" })),
      h("td.nowrap", timeEl(o.completed_at)),
      h("td.nowrap", deadlineEl(o.callback_due_at)),
      rateCell(o),
    ],
    onPage: (offset) => app.go("callbacks", { ...params, offset }),
    pageSize: PAGE,
    emptyText: "没有待回访的工单",
    className: ".ratings-table",
  });

  const tables = { open: waiting, closed, rating: ratings };

  // --- live ----------------------------------------------------------------------------------------
  app.counts?.subscribe((next) => {
    const changed = next.callbacks !== counts.callbacks || next.ratings !== counts.ratings;
    counts = { ...next };
    renderNav();
    if (changed && loaded && !el.hidden && !editing()) tables[list()].refresh();
  });

  // A callback folded in, called or closed by anyone: the list shows it (counts may not move).
  app.on?.("callback", (change) => {
    const id = String(change.id);
    if (known.has(id)) known.set(id, { ...known.get(id), ...change });
    if (loaded && !el.hidden && !editing()) tables[list()].refresh();
  });

  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !el.hidden && params.open && !e.target.closest("form"))
      app.go("callbacks", { ...params, open: "" });
  });

  return {
    el,
    show(next) {
      const listChanged =
        !loaded || (next.list || "") !== (params.list || "") || (next.offset || "") !== (params.offset || "");
      loaded = true;
      params = next;
      renderNav();
      const table = tables[list()];
      if (listChanged) {
        clear(listBox, table.el);
        table.load(params.offset);
      } else if (!params.open) {
        table.refresh();
      }
      table.select?.(params.open);
      renderDetail();
    },
  };
}
