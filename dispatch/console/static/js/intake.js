// The intake form of the operator desk: caller, address and what the resident says, live
// category suggestions while typing, then POST /api/v1/orders once (an Idempotency-Key per form,
// so a double click or a retry creates one order) and the order as created: number, deadlines,
// safety notice, dispatch result and the warnings to check with the caller.

import { api } from "./api.js";
import { CHANNEL_LABELS, clear, deadlineEl, debounce, errorLine, h, orderBadges, uuid } from "./ui.js";

/**
 * The form and its result. fill(prefill, force) prefills it (without force, only when nothing
 * unsaved is in it); linkCall(key, id) gives it the call id a pending link was waiting for;
 * onCreated(order) runs after the server created the order.
 */
export function createIntake(app, { onCreated }) {
  let current = null; // this form's state: see resetForm()
  const formBox = h("section.card.intake");
  const resultBox = h("div.result");

  const f = {
    phone: h("input", {
      name: "caller_phone",
      required: true,
      inputmode: "tel",
      autocomplete: "off",
      placeholder: "来电号码",
    }),
    name: h("input", { name: "resident_name", autocomplete: "off", placeholder: "居民姓名" }),
    address: h("input", { name: "address", autocomplete: "off", placeholder: "如 文二路168号 翠苑一区 3幢2单元501室" }),
    description: h("textarea", {
      name: "description",
      required: true,
      rows: 4,
      maxLength: 2000,
      placeholder: "居民反映的问题，边听边记；下方实时给出服务类别建议",
    }),
    priority: h(
      "select",
      { name: "priority" },
      h("option", { value: "normal" }, "普通"),
      h("option", { value: "urgent" }, "紧急"),
    ),
    channel: h(
      "select",
      { name: "channel" },
      Object.entries(CHANNEL_LABELS).map(([v, t]) => h("option", { value: v }, t)),
    ),
    item: h("select", { name: "item_code", "aria-label": "其他事项" }),
  };
  const suggestBox = h("div.suggestions", { "aria-live": "polite" });
  const callLink = h("span.call-link");
  const submit = h("button.primary", { type: "submit", title: "Ctrl+Enter" }, "提交工单");
  const formError = h("div.form-error");
  const fieldset = h(
    "fieldset",
    h("div.grid2", h("label", "来电号码 *", f.phone), h("label", "姓名", f.name)),
    h("label", "地址", f.address),
    h("label", "诉求描述 *", f.description),
    suggestBox,
    h(
      "div.grid3",
      h("label", { title: "item (when the suggestions miss)" }, "服务事项", f.item),
      h("label", "紧急程度", f.priority),
      h("label", "渠道", f.channel),
    ),
    h("div.row", submit, callLink, h("button.ghost", { type: "button", onclick: () => resetForm() }, "清空")),
    formError,
  );
  const form = h("form", { autocomplete: "off" }, h("h2", { title: "new service order" }, "新建工单"), fieldset);
  formBox.append(form);

  function fillItemSelect() {
    const groups = new Map();
    for (const item of app.catalogue.items.values()) {
      if (item.active === false) continue;
      if (!groups.has(item.category_code)) groups.set(item.category_code, []);
      groups.get(item.category_code).push(item);
    }
    clear(
      f.item,
      h("option", { value: "" }, "按建议自动选择"),
      [...groups].map(([cat, items]) =>
        h(
          "optgroup",
          { label: app.catalogue.categories.get(cat)?.name_zh || cat },
          items.map((i) => h("option", { value: i.code }, i.name_zh)),
        ),
      ),
    );
  }

  function resetForm(prefill = {}) {
    current = {
      key: uuid(),
      dirty: false,
      result: null,
      callKey: prefill.callKey || null,
      callId: prefill.callId ?? null,
      suggestions: [],
    };
    fieldset.disabled = false;
    form.reset();
    f.phone.value = prefill.phone || "";
    f.name.value = prefill.name || "";
    f.address.value = prefill.address || "";
    f.channel.value = prefill.channel || "phone";
    f.priority.value = "normal";
    f.item.value = "";
    clear(suggestBox);
    clear(formError);
    clear(resultBox);
    renderCallLink();
    (prefill.phone ? f.description : f.phone).focus({ preventScroll: true });
  }

  function renderCallLink() {
    const { callId, callKey: key } = current;
    clear(
      callLink,
      callId != null
        ? h(
            "span.chip",
            { title: "call_id: the order is linked to this call" },
            `关联通话 #${callId}`,
            h(
              "button.x",
              {
                type: "button",
                "aria-label": "取消关联",
                onclick: () => ((current.callId = null), (current.callKey = null), renderCallLink()),
              },
              "×",
            ),
          )
        : key
          ? h("span.muted.small", "正在关联通话…")
          : null,
    );
  }

  let suggestAbort = null;
  const suggest = debounce(async () => {
    const q = f.description.value.trim();
    suggestAbort?.abort();
    if (q.length < 2) return clear(suggestBox);
    suggestAbort = new AbortController();
    try {
      const { suggestions } = await api("/api/v1/catalogue/suggest", {
        query: { q, limit: 3 },
        signal: suggestAbort.signal,
      });
      current.suggestions = suggestions;
      renderSuggestions();
    } catch (err) {
      if (err.name !== "AbortError") clear(suggestBox, errorLine(err));
    }
  }, 150);

  function renderSuggestions() {
    const list = current.suggestions;
    const chosen = f.item.value;
    if (!list.length) return clear(suggestBox, h("span.muted.small", "暂无类别建议：请在“服务事项”中选择，或补充描述"));
    clear(
      suggestBox,
      h("span.muted.small", { title: "category suggestions" }, "建议："),
      list.map((s, i) =>
        h(
          chosen === s.item_code || (!chosen && i === 0) ? "button.suggestion.chosen" : "button.suggestion",
          {
            type: "button",
            title: `${s.item_code} · score ${s.score.toFixed(2)}${i === 0 ? "（未选择时按此受理）" : ""}`,
            "aria-pressed": String(chosen === s.item_code),
            onclick: () => ((f.item.value = chosen === s.item_code ? "" : s.item_code), renderSuggestions()),
          },
          h("span", s.name),
          h("span.muted.small", app.catalogue.categories.get(s.category_code)?.name_zh || s.category_code),
        ),
      ),
    );
  }

  form.addEventListener("input", (e) => {
    current.dirty = true;
    if (e.target === f.description) suggest();
    if (e.target === f.item) renderSuggestions();
  });
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (current.result || submit.disabled) return;
    const body = {
      caller_phone: f.phone.value.trim(),
      resident_name: f.name.value.trim() || null,
      address: f.address.value.trim() || null,
      description: f.description.value.trim(),
      item_code: f.item.value || null,
      priority: f.priority.value,
      channel: f.channel.value,
      call_id: current.callId,
    };
    submit.disabled = true;
    submit.textContent = "提交中…";
    clear(formError);
    try {
      // The same key for every attempt of this form: a double click or a retry creates one order.
      const order = await api("/api/v1/orders", { body, headers: { "Idempotency-Key": current.key } });
      current.result = order;
      fieldset.disabled = true;
      showResult(order);
      onCreated(order);
    } catch (err) {
      clear(formError, errorLine(err));
    } finally {
      submit.disabled = false;
      submit.textContent = "提交工单";
    }
  });

  // --- the created order ------------------------------------------------------------------------
  async function showResult(o) {
    const warnings = [
      o.possible_duplicate_of
        ? h(
            "p.warn",
            { title: "possible_duplicate_of" },
            `可能重复：该居民 7 天内已有同类未办结工单 ${o.possible_duplicate_of}`,
          )
        : null,
      o.name_mismatch
        ? h("p.warn", { title: "name_mismatch" }, "姓名与该号码登记的居民不一致：已按号码关联原档案，未合并，请核实")
        : null,
      o.lat == null ? h("p.warn", { title: "not located" }, "地址未能定位：无法自动派单，请核实地址或手工派单") : null,
      o.resident_created ? h("p.info", "已为新号码建立居民档案") : null,
    ];
    const dispatchLine = h("p.dispatch", dispatchText(o));
    const next = h("button.primary", { type: "button", onclick: () => resetForm() }, "新建下一单");
    clear(
      resultBox,
      h(
        "section.card.created",
        h("div.created-head", h("span.muted", "已受理"), h("strong.number", o.number), orderBadges(o)),
        h(
          "dl.facts",
          h("dt", "服务事项"),
          h("dd", app.itemLabel(o.item_code)),
          h("dt", { title: "sign_by" }, "签收时限"),
          h("dd", deadlineEl(o.sign_by)),
          h("dt", { title: "complete_by" }, "办结时限"),
          h("dd", deadlineEl(o.complete_by)),
          h("dt", "派单"),
          h("dd", dispatchLine),
        ),
        o.safety_notice ? h("div.safety", { title: "safety notice" }, h("strong", "安全提示 "), o.safety_notice) : null,
        warnings,
        h(
          "div.row",
          next,
          h("button", { type: "button", onclick: () => app.go("orders", { open: o.id }) }, "打开工单"),
        ),
      ),
    );
    next.focus();
    if (o.status === "offered") {
      // OrderCreated does not name the provider offered: the timeline's last offer does.
      try {
        const detail = await api(`/api/v1/orders/${o.id}`);
        const offer = [...detail.timeline].reverse().find((e) => e.action === "offer");
        if (offer?.data?.provider_id) {
          const name = await app.providerName(offer.data.provider_id);
          const km = offer.data.distance_km != null ? `，${offer.data.distance_km} km` : "";
          clear(dispatchLine, `已派给 ${name}${km}，等待签收`);
        }
      } catch {
        /* the generic line stays */
      }
    }
  }

  function dispatchText(o) {
    if (o.status === "offered") return "已自动派单，等待签收";
    if (o.status === "received" && o.supervisor_queue_reason) return `转督办派单：${o.supervisor_queue_reason}`;
    if (o.status === "received")
      return app.catalogue.items.get(o.item_code)?.home_visit === false
        ? "咨询类：未派单，可直接答复办结"
        : "未派单：请在工单中派单";
    return o.status;
  }

  fillItemSelect();
  resetForm();
  return {
    el: h("div.intake-wrap", formBox, resultBox),
    /** True while the form holds typed text that was not submitted. */
    pending: () => current.dirty && !current.result,
    fill(prefill, force = false) {
      if (!force && current.dirty && !current.result) return false;
      resetForm(prefill);
      return true;
    },
    linkCall(key, id) {
      if (key && current.callKey === key && current.callId == null) {
        current.callId = id;
        renderCallLink();
      }
    },
  };
}
