// The order actions (POST /api/v1/orders/{id}/<verb>): the button bar of the verbs the server
// lists in the order's allowed_actions (for this user, now, in its order), each with its Chinese
// label, the small form it needs and a confirm row for one-step actions. Who may do what when is
// the server's rule, never repeated here; its refusals ({error, detail}) are shown by the action.

import { api } from "./api.js";
import { errorLine, h } from "./ui.js";

const reason = (label) => [{ name: "reason", label, required: true, maxlength: 300 }];

// How each verb is shown and asked for. "complete" has two faces: 直接办结 on the call (a
// received order) and 办结 after the visit; only the wording and form differ, by status.
const ACTIONS = {
  dispatch: {
    label: "派单",
    en: "dispatch to the best candidate (or pick one below)",
    path: (id) => `/api/v1/orders/${id}/dispatch`,
    fields: [],
    confirm: "派给排名第一的服务商",
  },
  accept: {
    label: "签收",
    en: "accept the offer",
    path: (id) => `/api/v1/orders/${id}/accept`,
    fields: [],
    primary: true,
  },
  decline: {
    label: "退单",
    en: "decline (return) the offer",
    path: (id) => `/api/v1/orders/${id}/decline`,
    fields: reason("退单原因"),
  },
  "check-in": {
    label: "到场签到",
    en: "check in at the door",
    path: (id) => `/api/v1/orders/${id}/check-in`,
    fields: [
      { name: "lat", label: "纬度 lat", type: "number", step: "any", min: -90, max: 90, required: true },
      { name: "lon", label: "经度 lon", type: "number", step: "any", min: -180, max: 180, required: true },
    ],
    geolocate: true,
    primary: true,
  },
  "check-out": {
    label: "离场签退",
    en: "check out when leaving",
    path: (id) => `/api/v1/orders/${id}/check-out`,
    fields: [
      { name: "lat", label: "纬度 lat", type: "number", step: "any", min: -90, max: 90, required: true },
      { name: "lon", label: "经度 lon", type: "number", step: "any", min: -180, max: 180, required: true },
    ],
    geolocate: true,
  },
  complete: (order) =>
    order.status === "received"
      ? {
          label: "直接办结",
          en: "complete directly on the call (no dispatch)",
          path: (id) => `/api/v1/orders/${id}/complete`,
          fields: [{ name: "note", label: "答复内容", type: "textarea", required: true, maxlength: 2000 }],
        }
      : {
          label: "办结",
          en: "complete",
          path: (id) => `/api/v1/orders/${id}/complete`,
          fields: [{ name: "note", label: "办理情况", type: "textarea", required: true, maxlength: 2000 }],
          primary: order.status === "in_service",
        },
  rate: {
    label: "回访评价",
    en: "record the rating or the callback outcome",
    path: (id) => `/api/v1/orders/${id}/rate`,
    fields: [
      {
        name: "outcome",
        label: "回访结果",
        type: "select",
        options: [
          ["rated", "已评价"],
          ["unreachable", "未接通"],
          ["declined", "拒绝评价"],
        ],
      },
      {
        name: "stars",
        label: "满意度",
        type: "select",
        options: [
          ["", "—"],
          ["5", "5 非常满意"],
          ["4", "4 满意"],
          ["3", "3 基本满意"],
          ["2", "2 不满意"],
          ["1", "1 非常不满意"],
        ],
      },
      { name: "comment", label: "意见", maxlength: 1000 },
      { name: "reopen", label: "居民要求重办（1–2 星）", type: "checkbox" },
    ],
    body: (v) => ({
      outcome: v.outcome,
      stars: v.outcome === "rated" && v.stars ? Number(v.stars) : null,
      comment: v.comment,
      reopen: v.reopen,
    }),
  },
  urge: {
    label: "催办",
    en: "urge the provider (SMS)",
    path: (id) => `/api/v1/orders/${id}/urge`,
    fields: [{ name: "note", label: "催办说明（可空）", maxlength: 300 }],
  },
  extend: {
    label: "延期",
    en: "extend the deadline (working days, 10 in all at most)",
    path: (id) => `/api/v1/orders/${id}/extend`,
    fields: [
      {
        name: "working_days",
        label: "延长工作日",
        type: "number",
        min: 1,
        max: 10,
        step: 1,
        required: true,
        value: "1",
      },
      ...reason("延期原因"),
    ],
    body: (v) => ({ working_days: Number(v.working_days), reason: v.reason }),
  },
  reopen: {
    label: "重办",
    en: "reopen for rework",
    path: (id) => `/api/v1/orders/${id}/reopen`,
    fields: reason("重办原因"),
  },
  withdraw: {
    label: "收回改派",
    en: "take the offer back (the provider is told), and offer it to another provider at once if one is picked",
    path: (id) => `/api/v1/orders/${id}/withdraw`,
    fields: [
      ...reason("收回原因"),
      {
        name: "provider_id",
        label: "改派给（可不选，收回后留待派单）",
        type: "select",
        options: [["", "不改派，收回后留待派单"]],
        // The ranked candidates, as 派单 offers them (the provider holding the offer is excluded
        // by the server's ranking).
        load: async (order) => {
          const { candidates } = await api(`/api/v1/orders/${order.id}/candidates`, { query: { limit: 8 } });
          return candidates.map((c) => [String(c.provider_id), `${c.name}（${c.reasons.join("，")}）`]);
        },
      },
    ],
    body: (v) => ({ reason: v.reason, provider_id: v.provider_id ? Number(v.provider_id) : null }),
  },
  notes: {
    label: "内部备注",
    en: "an internal note: staff see it in the timeline, providers never do",
    path: (id) => `/api/v1/orders/${id}/notes`,
    fields: [{ name: "text", label: "备注内容（仅工作人员可见）", type: "textarea", required: true, maxlength: 2000 }],
  },
  cancel: {
    label: "撤销",
    en: "cancel the order",
    path: (id) => `/api/v1/orders/${id}/cancel`,
    fields: reason("撤销原因"),
    danger: true,
  },
};

/**
 * The actions of order.allowed_actions, in the server's order, each as {verb, label, …}. A verb
 * this console does not know (a newer server) is left out: it has no label or form here.
 */
export function orderActions(order) {
  return (order.allowed_actions || []).flatMap((verb) => {
    if (!Object.hasOwn(ACTIONS, verb)) return [];
    const spec = ACTIONS[verb];
    return [{ verb, ...(typeof spec === "function" ? spec(order) : spec) }];
  });
}

/** May this user, now, take this action on the order (per the server's allowed_actions)? */
export function allows(order, verb) {
  return (order.allowed_actions || []).includes(verb);
}

/** Offer the order to a chosen provider (from the candidates list). */
export function dispatchTo(orderId, providerId) {
  return api(`/api/v1/orders/${orderId}/dispatch`, { body: { provider_id: providerId } });
}

function fieldEl(f, order) {
  const common = { name: f.name, required: f.required, id: null };
  let input;
  if (f.type === "textarea") {
    input = h("textarea", { ...common, rows: 3, maxLength: f.maxlength });
  } else if (f.type === "select") {
    input = h(
      "select",
      common,
      f.options.map(([value, text]) => h("option", { value }, text)),
    );
    // Options the server knows (e.g. the candidates): added when they arrive.
    if (f.load) {
      const wait = h("option", { value: "", disabled: true }, "加载中…");
      input.append(wait);
      f.load(order)
        .then((options) => {
          wait.remove();
          input.append(...options.map(([value, text]) => h("option", { value }, text)));
        })
        .catch(() => (wait.textContent = "无法加载候选服务商"));
    }
  } else if (f.type === "checkbox") {
    return h("label.check", h("input", { type: "checkbox", name: f.name }), f.label);
  } else {
    input = h("input", {
      ...common,
      type: f.type || "text",
      step: f.step,
      min: f.min,
      max: f.max,
      maxLength: f.maxlength,
      value: f.value,
      inputmode: f.type === "number" ? "decimal" : null,
    });
  }
  return h("label", f.label, input);
}

function formValues(form, action) {
  const values = {};
  for (const f of action.fields) {
    const el = form.elements[f.name];
    values[f.name] = f.type === "checkbox" ? el.checked : f.type === "number" ? Number(el.value) : el.value.trim();
  }
  return action.body ? action.body(values) : values;
}

/** Fill the check-in form from the browser's position (needs https or localhost). */
function geolocate(form, status) {
  if (!("geolocation" in navigator) || !window.isSecureContext) {
    status.textContent = "浏览器无法定位（需 https），请手工填写坐标";
    return;
  }
  status.textContent = "正在定位…";
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      form.elements.lat.value = pos.coords.latitude.toFixed(6);
      form.elements.lon.value = pos.coords.longitude.toFixed(6);
      status.textContent = `已定位（精度约 ${Math.round(pos.coords.accuracy)} 米）`;
    },
    (err) => {
      status.textContent = `定位失败（${err.message || err.code}），请手工填写坐标`;
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
  );
}

/**
 * The buttons of the actions the server allows on this order (order.allowed_actions); a button
 * with fields opens a small form under the bar. onDone(result, action) runs after the server
 * accepted the action.
 */
export function actionBar(order, onDone) {
  const actions = orderActions(order);
  const bar = h("div.actions");
  if (!actions.length) return bar;
  const buttons = h("div.action-buttons");
  const slot = h("div.action-slot");
  bar.append(buttons, slot);

  const run = async (action, body, button, where) => {
    button.disabled = true;
    where.querySelector(":scope > .error")?.remove();
    try {
      const result = await api(action.path(order.id), { body: body ?? {} });
      slot.replaceChildren();
      onDone(result, action);
    } catch (err) {
      where.append(errorLine(err));
    } finally {
      button.disabled = false;
    }
  };

  for (const action of actions) {
    const cls = action.danger ? "button.danger" : action.primary ? "button.primary" : "button";
    const button = h(cls, { type: "button", title: action.en }, action.label);
    button.addEventListener("click", () => {
      const open = slot.dataset.verb === action.label;
      slot.replaceChildren();
      delete slot.dataset.verb;
      if (open) return;
      slot.dataset.verb = action.label;
      if (!action.fields.length) {
        // One step, but never by accident: a confirm row with the consequence spelled out.
        const ok = h("button.primary", { type: "button" }, `确认${action.label}`);
        const row = h("div.confirm", h("span", action.confirm || `确认${action.label}工单 ${order.number}？`), ok);
        ok.addEventListener("click", () => run(action, undefined, ok, row));
        slot.append(row);
        ok.focus();
        return;
      }
      const status = h("span.muted.small");
      const submit = h(action.danger ? "button.danger" : "button.primary", { type: "submit" }, `提交${action.label}`);
      const form = h(
        "form.action-form",
        action.fields.map((f) => fieldEl(f, order)),
        action.geolocate
          ? h(
              "div.row",
              h("button", { type: "button", onclick: () => geolocate(form, status) }, "获取当前位置"),
              status,
            )
          : null,
        h("div.row", submit, h("button.ghost", { type: "button", onclick: () => button.click() }, "取消")),
      );
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        run(action, formValues(form, action), submit, form);
      });
      slot.append(form);
      if (action.geolocate) geolocate(form, status);
      form.querySelector("input, textarea, select")?.focus();
    });
    buttons.append(button);
  }
  return bar;
}
