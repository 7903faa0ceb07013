// 坐席 (operator desk): the screen pop, the live call list, resident lookup, and the intake form
// (intake.js) that the pop prefills. An answered call that made no order is given its outcome
// here (咨询已答复, 打错电话, …); an order for a callback (回拨 › 生成工单) is taken here too.
//
// A screen pop for a new call has no call id yet (it is built while the phone rings, before the
// call is stored); the `call` event that follows carries it, with the same source/external_id,
// and is joined to the pop and to the form here.

import { api } from "./api.js";
import { createIntake } from "./intake.js";
import { CALL_OUTCOMES, outcomePicker } from "./outcomes.js";
import { revealNumber, revealablePhone } from "./reveal.js";
import {
  CALLBACK_REASONS,
  DISPOSITION_LABELS,
  OUTCOME_LABELS,
  clear,
  empty,
  errorLine,
  h,
  nationalPhone,
  orderNumber,
  phoneLink,
  statusBadge,
  tagChips,
  timeEl,
  toast,
} from "./ui.js";

const LIVE_CALLS = 8;
// Why an order for a resident looked up by hand needs their whole number (kept in the access trail).
const ORDER_REASON = "为居民登记工单";

const callKey = (c) => (c && c.external_id ? `${c.source}:${c.external_id}` : null);

export function create(app) {
  const state = {
    pop: null, // the profile shown: a screen pop, or a resident looked up by hand ({manual: true})
    calls: new Map(), // call id → latest call (from GET /api/v1/calls and `call` events)
    callIds: new Map(), // "source:external_id" → call id
  };

  // --- layout ---------------------------------------------------------------------------------
  const lookupInput = h("input", { type: "search", placeholder: "电话或姓名、地址", "aria-label": "查询居民" });
  const lookupResults = h("div.lookup-results");
  const popBox = h("section.card.pop", { "aria-live": "polite" });
  const callList = h("ul.call-list");
  const intake = createIntake(app, {
    onCreated: (order, body) => {
      refreshPopResident(order.resident_id);
      refreshCall(body.call_id);
      if (body.callback_id != null) app.counts?.refresh();
    },
  });

  const lookupForm = h(
    "form.lookup",
    { role: "search", onsubmit: (e) => (e.preventDefault(), lookup(lookupInput.value.trim())) },
    h("span.label", { title: "resident lookup" }, "居民查询"),
    lookupInput,
    h("button", { type: "submit" }, "查询"),
  );
  const el = h(
    "section.view.desk",
    h(
      "div.desk-side",
      lookupForm,
      lookupResults,
      popBox,
      h("section.card", h("h2", { title: "live calls" }, "实时通话"), callList),
    ),
    h("div.desk-main", intake.el),
  );

  // --- screen pop / resident profile ----------------------------------------------------------
  function renderPop() {
    const pop = state.pop;
    if (!pop) {
      clear(
        popBox,
        h("h2", "来电弹屏"),
        empty("等待来电… 电话振铃时这里立即显示来电居民的档案、未办结工单和近期来电。"),
      );
      return;
    }
    const r = pop.resident;
    const call = pop.call || {};
    const liveCall = state.calls.get(call.id ?? state.callIds.get(callKey(call)));
    const title = pop.manual ? "居民档案" : pop.known_caller ? "来电" : "未知来电";
    // A pop shows the number calling (the operator hears the caller); a profile looked up by hand
    // shows it masked, with 查看号码.
    const number = call.caller
      ? phoneLink(call.caller)
      : pop.manual && call.masked
        ? revealablePhone(call.masked, { resident_id: r.id }, { onRevealed: (p) => (call.caller = p.e164) })
        : null;
    const head = h(
      "div.pop-head",
      h("h2", { title: pop.manual ? "resident profile" : "screen pop" }, title),
      number ? h("span.caller", number) : null,
      liveCall ? callState(liveCall) : call.ringing_at ? h("span.badge.ringing", "振铃") : null,
      call.ringing_at ? timeEl(call.ringing_at) : null,
    );
    // Prefill on demand: after "新建下一单", or when the pop arrived over a half-typed form (which
    // stays in its draft).
    const useError = h("span");
    const useButton = h(
      "button.small",
      {
        type: "button",
        title: pop.manual && !call.caller ? "将显示该居民的完整号码（记入访问记录）" : null,
        onclick: async () => {
          clear(useError);
          if (pop.manual && !call.caller && r) {
            try {
              call.caller = (await revealNumber({ resident_id: r.id }, ORDER_REASON)).e164;
            } catch (err) {
              return clear(useError, errorLine(err));
            }
          }
          fillFromPop(true);
          if (state.pop === pop) renderPop();
        },
      },
      pop.manual ? "用此居民新建工单" : "用此来电新建工单",
    );
    const callback = pop.open_callback ? openCallbackNote(pop.open_callback) : null;
    if (!r) {
      clear(
        popBox,
        head,
        h("p.unknown", "未登记的号码：请询问姓名和地址，提交工单时自动建档。"),
        callback,
        useButton,
        useError,
      );
      return;
    }
    clear(
      popBox,
      head,
      h(
        "div.resident",
        h("div.resident-name", h("strong", r.name || "（未留姓名）"), tagChips(r.tags)),
        h("div", r.address || h("span.muted", "无地址")),
        r.phones?.length > 1
          ? h(
              "div.muted.small",
              "其他号码：",
              r.phones
                .filter((p) => !(p.e164 && p.e164 === call.caller) && p.national !== call.masked)
                .map((p) => p.national)
                .join("、"),
            )
          : null,
        r.note ? h("div.note", r.note) : null,
        r.consent === false ? h("div.warn.small", "居民未同意登记个人信息") : null,
      ),
      callback,
      useButton,
      useError,
      h("h3", `未办结工单 (${pop.open_orders.length})`),
      pop.open_orders.length
        ? h(
            "ul.mini-orders",
            pop.open_orders.map((o) => miniOrder(o)),
          )
        : h("p.muted.small", "无"),
      h("h3", "近期来电"),
      pop.recent_calls.length
        ? h(
            "ul.mini-calls",
            pop.recent_calls.map((c) =>
              h(
                "li",
                timeEl(c.started_at),
                h("span", DISPOSITION_LABELS[c.disposition] || c.disposition || "进行中"),
                c.talk_seconds ? h("span.muted", `${c.talk_seconds} 秒`) : null,
              ),
            ),
          )
        : h("p.muted.small", "无"),
      pop.orders?.length > pop.open_orders.length
        ? h(
            "details.history",
            h("summary", `历史工单 (${pop.orders.length})`),
            h(
              "ul.mini-orders",
              pop.orders.slice(0, 10).map((o) => miniOrder(o)),
            ),
          )
        : null,
    );
  }

  /** The caller has a callback waiting: an order taken now closes it (the form says so). */
  function openCallbackNote(cb) {
    return h(
      "div.callback-note",
      h("strong", "待回拨 "),
      `${CALLBACK_REASONS[cb.reason] || cb.reason}${cb.call_count > 1 ? ` ×${cb.call_count}` : ""}，`,
      timeEl(cb.created_at),
      " 起；在此受理的工单将同时结案该回拨。",
      h("a", { href: `#/callbacks?open=${cb.id}` }, "查看回拨"),
    );
  }

  function miniOrder(o) {
    return h(
      "li",
      h(
        "a",
        { href: "#", onclick: (e) => (e.preventDefault(), app.go("orders", { open: o.id })) },
        orderNumber(o.number),
      ),
      statusBadge(o.status),
      h("span.item", app.itemName(o.item_code)),
      h("span.desc", { title: o.description }, o.description),
    );
  }

  function showPop(pop, { fill = true } = {}) {
    state.pop = pop;
    if (fill) fillFromPop(false);
    renderPop();
    popBox.classList.remove("flash");
    void popBox.offsetWidth; // restart the animation
    popBox.classList.add("flash");
  }

  /**
   * Prefill the form from the profile shown. Without force a form with unsent text asks first;
   * with force (the operator's click) it takes the form, the text staying in its draft.
   */
  function fillFromPop(force) {
    const pop = state.pop;
    if (!pop) return;
    const call = pop.manual ? null : pop.call;
    const prefill = {
      phone: pop.call?.caller || "",
      name: pop.resident?.name || "",
      address: pop.resident?.address || "",
      callKey: callKey(call),
      callId: call ? (call.id ?? state.callIds.get(callKey(call)) ?? null) : null,
      callback: pop.open_callback || null,
    };
    if (force) return intake.fill(prefill);
    if (pop.manual) return intake.pending() ? null : intake.fill(prefill); // a lookup never interrupts
    const who = `新来电 ${nationalPhone(prefill.phone) || "（未显示号码）"}${prefill.name ? `（${prefill.name}）` : ""}`;
    intake.offer(prefill, who);
  }

  /** 回拨 › 生成工单: the form for a callback, with the caller's profile beside it when known. */
  async function startFromCallback(p) {
    let resident = null;
    if (p.residentId) {
      try {
        resident = await api(`/api/v1/residents/${p.residentId}`);
      } catch {
        /* the form still opens, with what the callback knew */
      }
    }
    if (resident) showPop(profilePop(resident, p.phone), { fill: false });
    const prefill = {
      phone: p.phone,
      name: resident?.name || p.name || "",
      address: resident?.address || "",
      channel: "phone",
      callback: p.callback,
    };
    intake.offer(prefill, `回拨 ${nationalPhone(p.phone)}`);
  }

  /** A resident looked up (or a callback's): their primary number masked until revealed. */
  function profilePop(r, caller = null) {
    const primary = r.phones.find((p) => p.is_primary) || r.phones[0];
    return {
      manual: true,
      known_caller: true,
      call: { caller, masked: caller ? null : primary?.national || null },
      resident: r,
      open_orders: r.open_orders,
      orders: r.orders,
      recent_calls: r.calls.slice(0, 5),
    };
  }

  /** A profile looked up by hand: shown, not put in the form (用此居民新建工单 does that). */
  async function showResident(id) {
    try {
      showPop(profilePop(await api(`/api/v1/residents/${id}`)), { fill: false });
    } catch (err) {
      clear(lookupResults, errorLine(err));
    }
  }

  /** After an order for the resident shown, list it with their open orders. */
  async function refreshPopResident(residentId) {
    const pop = state.pop;
    if (!pop?.resident || pop.resident.id !== residentId) return;
    try {
      const r = await api(`/api/v1/residents/${residentId}`);
      if (state.pop !== pop) return; // another call popped meanwhile
      Object.assign(pop, { resident: r, open_orders: r.open_orders, orders: r.orders });
      renderPop();
    } catch {
      /* the pop keeps what it showed */
    }
  }

  async function lookup(text) {
    if (!text) return clear(lookupResults);
    const digits = text.replace(/[\s\-()+]/g, "");
    const query = /^\d{5,}$/.test(digits) ? { phone: text } : { q: text, limit: 8 };
    try {
      const { items } = await api("/api/v1/residents", { query });
      if (items.length === 1) {
        clear(lookupResults);
        return showResident(items[0].id);
      }
      clear(
        lookupResults,
        items.length
          ? h(
              "ul.lookup-list",
              items.map((r) =>
                h(
                  "li",
                  h(
                    "button.link",
                    { type: "button", onclick: () => (clear(lookupResults), showResident(r.id)) },
                    h("strong", r.name),
                    " ",
                    h("span.muted", r.phones[0]?.national || ""),
                    " ",
                    tagChips(r.tags),
                    h("div.muted.small", r.address),
                  ),
                ),
              ),
            )
          : h("p.muted.small", query.phone ? "没有登记这个号码的居民" : "没有找到匹配的居民"),
      );
    } catch (err) {
      clear(lookupResults, errorLine(err));
    }
  }

  // --- live calls -------------------------------------------------------------------------------
  function callState(c) {
    if (c.disposition)
      return h(
        `span.badge.disp-${c.disposition}`,
        { title: c.disposition },
        DISPOSITION_LABELS[c.disposition] || c.disposition,
      );
    if (c.ended_at) return h("span.badge", "已结束");
    if (c.answered_at) return h("span.badge.talking", "通话中");
    return h("span.badge.ringing", "振铃");
  }

  function rememberCall(c) {
    state.calls.set(c.id, c);
    const key = callKey(c);
    if (key) state.callIds.set(key, c.id);
    const pop = state.pop;
    if (pop && !pop.manual && callKey(pop.call) === key && pop.call.id == null) pop.call.id = c.id;
    intake.linkCall(key, c.id);
  }

  // An answered call that made no order waits for its outcome; the picker of the one being
  // marked survives the list's re-renders (call events keep coming).
  const pickers = new Map(); // call id → its open outcome picker

  function needsOutcome(c) {
    return c.disposition === "answered" && !c.order_ids?.length && !c.outcome;
  }

  function callOutcome(c) {
    const numbers = c.order_numbers || [];
    if (numbers.length)
      return h(
        "span.call-orders",
        numbers.map((n, i) => h("a", { href: `#/orders?open=${c.order_ids[i]}`, title: "打开工单" }, orderNumber(n))),
      );
    if (c.order_ids?.length) return h("span.small", `工单 ${c.order_ids.length}`);
    if (c.outcome) return h("span.badge.outcome", { title: c.outcome }, OUTCOME_LABELS[c.outcome] || c.outcome);
    if (!needsOutcome(c)) return null;
    const open = pickers.has(c.id);
    return h(
      "button.ghost.small",
      {
        type: "button",
        "aria-expanded": String(open),
        title: "未生成工单的通话：登记处理结果",
        onclick: () => {
          if (open) pickers.delete(c.id);
          else pickers.set(c.id, outcomeFor(c));
          renderCalls();
        },
      },
      open ? "收起" : "登记结果",
    );
  }

  function outcomeFor(c) {
    return outcomePicker({
      codes: CALL_OUTCOMES,
      itemName: app.itemName,
      withNote: false,
      openOrders: async () => (c.resident_id ? (await api(`/api/v1/residents/${c.resident_id}`)).open_orders : []),
      onSubmit: async (body) => {
        const updated = await api(`/api/v1/calls/${c.id}/outcome`, { body });
        pickers.delete(c.id);
        rememberCall(updated);
        renderCalls();
        toast(`通话已登记：${OUTCOME_LABELS[body.outcome]}`, { kind: "ok" });
      },
    });
  }

  function renderCalls() {
    const calls = [...state.calls.values()]
      .sort((a, b) => (b.started_at || "").localeCompare(a.started_at || ""))
      .slice(0, LIVE_CALLS);
    clear(
      callList,
      calls.length
        ? calls.map((c) =>
            h(
              "li",
              { dataset: { id: String(c.id) } },
              h(
                "div.call-row",
                h(
                  "button.link",
                  {
                    type: "button",
                    title: "查看来电居民",
                    onclick: () => c.resident_id && showResident(c.resident_id),
                  },
                  timeEl(c.started_at),
                  h("span.caller", c.caller_national || nationalPhone(c.caller) || "—"),
                  callState(c),
                  c.talk_seconds ? h("span.muted.small", `${c.talk_seconds} 秒`) : null,
                ),
                callOutcome(c),
              ),
              pickers.get(c.id) || null,
            ),
          )
        : h("li.muted.small", "暂无通话"),
    );
  }

  /** After an order taken on a call: the call as the server now lists it (with the order). */
  async function refreshCall(id) {
    if (id == null) return;
    try {
      rememberCall(await api(`/api/v1/calls/${id}`));
      pickers.delete(id);
      renderCalls();
    } catch {
      /* the next call event brings it */
    }
  }

  async function loadCalls() {
    const query = { limit: LIVE_CALLS, operator: app.user.role === "operator" ? app.user.extension : null };
    if (app.user.role === "operator" && !app.user.extension) return renderCalls();
    try {
      const { items } = await api("/api/v1/calls", { query });
      for (const c of items.reverse()) if (!state.calls.has(c.id)) rememberCall(c);
    } catch {
      /* the list fills from live events */
    }
    renderCalls();
  }

  // --- events -------------------------------------------------------------------------------------
  app.on("screen_pop", (pop) => {
    showPop(pop);
  });
  app.on("call", (c) => {
    rememberCall(c);
    renderCalls();
    if (state.pop && !state.pop.manual && callKey(state.pop.call) === callKey(c)) renderPop();
  });

  renderPop();
  loadCalls();
  return {
    el,
    show() {
      // 回拨 › 生成工单 sent the operator here with a callback to take an order for.
      const next = app.pendingOrder;
      app.pendingOrder = null;
      if (next) startFromCallback(next);
    },
  };
}
