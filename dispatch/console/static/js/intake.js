// The intake form of the operator desk: caller, address and what the resident says, live
// category suggestions while typing, then POST /api/v1/orders once (an Idempotency-Key per form,
// so a double click or a retry creates one order) and the order as created: number, deadlines,
// safety notice, dispatch result and the warnings to check with the caller.
//
// The operator confirms the item: no suggestion is chosen for them (a home-visit item is
// dispatched at once), they pick a chip (or Alt+1…3) or the list, and the submit button names it.
// What is typed is a draft in this browser (drafts.js) until the order exists: it survives an
// expired sign-in, and a second caller's pop asks before it takes the form.

import { api } from "./api.js";
import { draftId, draftStore } from "./drafts.js";
import { itemOptions, pickedLabel, suggester } from "./items.js";
import {
  CALLBACK_REASONS,
  CHANNEL_LABELS,
  clear,
  deadlineEl,
  errorLine,
  fmtTime,
  h,
  nationalPhone,
  orderBadges,
  uuid,
} from "./ui.js";

const FIELDS = ["phone", "name", "address", "description", "item", "priority", "channel"];
const SUGGESTIONS = 3;

/**
 * The form and its result.
 * - offer(prefill, who): a caller (screen pop) or a callback wants the form. An untouched form
 *   takes it; a form with unsent text asks first (保存草稿并接听新来电 / 继续当前). `who` names
 *   them in the question.
 * - fill(prefill): take it now (the current text stays in its draft).
 * - linkCall(key, id): the call id a pending link was waiting for.
 * - onCreated(order, body) runs after the server created the order (body: what was sent).
 * A prefill is {phone, name, address, channel, callKey, callId, callback: {id, reason, …}}.
 */
export function createIntake(app, { onCreated }) {
  const drafts = draftStore(app.user.username);
  let current = null; // this form's state: see load()
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
    item: h("select", { name: "item_code", "aria-label": "服务事项" }),
  };
  const suggestBox = h("div.suggestions", { "aria-live": "polite" });
  const links = h("span.call-link");
  const submit = h("button.primary", { type: "submit", title: "Ctrl+Enter" }, "提交工单");
  const formError = h("div.form-error");
  const notice = h("div.intake-notice");
  const draftsBox = h("div.drafts-box");
  const fieldset = h(
    "fieldset",
    h("div.grid2", h("label", "来电号码 *", f.phone), h("label", "姓名", f.name)),
    h("label", "地址", f.address),
    h("label", "诉求描述 *", f.description),
    suggestBox,
    h(
      "div.grid3",
      h("label", { title: "item (when the suggestions miss)" }, "服务事项 *", f.item),
      h("label", "紧急程度", f.priority),
      h("label", "渠道", f.channel),
    ),
    h("div.row", submit, links, h("button.ghost", { type: "button", onclick: () => discard() }, "清空")),
    formError,
  );
  const form = h(
    "form",
    { autocomplete: "off" },
    h("div.intake-head", h("h2", { title: "new service order" }, "新建工单"), draftsBox),
    notice,
    fieldset,
  );
  formBox.append(form);

  function fillItemSelect() {
    clear(f.item, itemOptions(app.catalogue));
  }

  // --- the form's state and its draft -------------------------------------------------------------

  /** Show a form for `prefill`: its saved draft when there is one, else a fresh one. */
  function load(prefill = {}, { focus = true } = {}) {
    const id = draftId({ callKey: prefill.callKey, callbackId: prefill.callback?.id });
    const saved = drafts.get(id);
    const from = saved || prefill;
    current = {
      id,
      key: saved?.key || uuid(),
      dirty: Boolean(saved),
      result: null,
      callKey: from.callKey || null,
      callId: prefill.callId ?? saved?.callId ?? null,
      callback: from.callback ? { id: from.callback.id, reason: from.callback.reason } : null,
      suggestions: [],
    };
    fieldset.disabled = false;
    form.reset();
    const values = saved?.fields || {
      phone: nationalPhone(prefill.phone) || "",
      name: prefill.name || "",
      address: prefill.address || "",
      channel: prefill.channel || "phone",
    };
    for (const name of FIELDS) if (values[name] !== undefined) f[name].value = values[name];
    if (!f.channel.value) f.channel.value = "phone";
    if (!f.priority.value) f.priority.value = "normal";
    clear(suggestBox);
    clear(formError);
    clear(notice);
    clear(resultBox);
    renderLinks();
    renderSubmit();
    renderDrafts();
    if (saved) {
      notice.append(h("p.info", `已恢复未提交的草稿（保存于 ${fmtTime(new Date(saved.savedAt).toISOString())}）`));
      if (f.description.value.trim().length >= 2) suggest();
    }
    if (focus) (f.phone.value ? f.description : f.phone).focus({ preventScroll: true });
  }

  function saveDraft() {
    if (!current.dirty || current.result) return;
    const fields = Object.fromEntries(FIELDS.map((name) => [name, f[name].value]));
    drafts.save({
      id: current.id,
      key: current.key,
      callKey: current.callKey,
      callId: current.callId,
      callback: current.callback,
      fields,
    });
    renderDrafts();
  }

  /** 清空: the form and its draft are gone. */
  function discard() {
    if (current.dirty && !current.result && !confirm("清空当前表单并删除其草稿？")) return;
    drafts.remove(current.id);
    load({});
  }

  function renderDrafts() {
    const others = drafts.list().filter((d) => d.id !== current?.id);
    if (!others.length) return clear(draftsBox);
    clear(
      draftsBox,
      h(
        "details.drafts",
        h("summary", { title: "本机保存的未提交工单" }, `草稿 (${others.length})`),
        h(
          "ul.draft-list",
          others.map((d) =>
            h(
              "li",
              h(
                "button.link",
                { type: "button", title: "打开此草稿（当前表单自动保存为草稿）", onclick: () => openDraft(d) },
                h("strong", nationalPhone(d.fields.phone) || d.fields.phone || "（无号码）"),
                d.fields.name ? ` ${d.fields.name}` : "",
                h("span.muted.small", ` ${fmtTime(new Date(d.savedAt).toISOString())}`),
                h("div.muted.small.desc", d.fields.description || "（未填写诉求）"),
              ),
              h(
                "button.ghost.small",
                {
                  type: "button",
                  "aria-label": "删除草稿",
                  onclick: () => {
                    if (!confirm("删除这份草稿？")) return;
                    drafts.remove(d.id);
                    renderDrafts();
                  },
                },
                "删除",
              ),
            ),
          ),
        ),
      ),
    );
  }

  function openDraft(d) {
    saveDraft();
    load({ callKey: d.callKey, callId: d.callId, callback: d.callback });
  }

  function renderLinks() {
    const { callId, callKey: key, callback } = current;
    const chip = (text, title, onRemove) =>
      h(
        "span.chip",
        { title },
        text,
        h("button.x", { type: "button", "aria-label": "取消关联", onclick: onRemove }, "×"),
      );
    clear(
      links,
      callId != null
        ? chip("已关联本次通话", `call_id ${callId}: the order is linked to this call`, () => {
            current.callId = null;
            current.callKey = null;
            renderLinks();
          })
        : key
          ? h("span.muted.small", "正在关联通话…")
          : null,
      callback
        ? chip(
            `回拨：${CALLBACK_REASONS[callback.reason] || "来电"}，提交后结案`,
            `callback_id ${callback.id}: creating the order closes this callback`,
            () => {
              current.callback = null;
              renderLinks();
            },
          )
        : null,
    );
  }

  // --- the item: suggestions, the list, and the submit button naming it ---------------------------

  let askedFor = null; // the form the suggestions asked for are for
  const askSuggestions = suggester({
    limit: SUGGESTIONS,
    answer: (suggestions) => {
      if (askedFor !== current) return;
      current.suggestions = suggestions;
      renderSuggestions();
    },
    failed: (err) => clear(suggestBox, errorLine(err)),
  });
  const suggest = () => {
    askedFor = current;
    askSuggestions(f.description.value);
  };

  function choose(code) {
    f.item.value = f.item.value === code ? "" : code;
    clear(formError);
    current.dirty = true;
    saveDraft();
    renderSuggestions();
    renderSubmit();
  }

  function renderSuggestions() {
    const list = current.suggestions;
    const chosen = f.item.value;
    if (!f.description.value.trim()) return clear(suggestBox);
    if (!list.length) return clear(suggestBox, h("span.muted.small", "暂无类别建议：请在“服务事项”中选择，或补充描述"));
    clear(
      suggestBox,
      h("span.muted.small", { title: "category suggestions: pick one (Alt+1…3)" }, "建议："),
      list.map((s, i) =>
        h(
          chosen === s.item_code ? "button.suggestion.chosen" : "button.suggestion",
          {
            type: "button",
            title: `选择此事项（Alt+${i + 1}）`,
            "aria-pressed": String(chosen === s.item_code),
            dataset: { code: s.item_code },
            onclick: () => choose(s.item_code),
          },
          h("kbd", String(i + 1)),
          h("span", s.name),
          h("span.muted.small", app.catalogue.categories.get(s.category_code)?.name_zh || s.category_code),
        ),
      ),
      chosen ? null : h("span.hint.pick", "请确认服务事项"),
    );
  }

  function renderSubmit() {
    if (submit.disabled) return;
    submit.textContent = f.item.value ? `提交：${pickedLabel(app.catalogue, f.item.value)}` : "提交工单";
  }

  // --- events ---------------------------------------------------------------------------------

  form.addEventListener("input", (e) => {
    current.dirty = true;
    saveDraft();
    if (e.target === f.description) suggest();
    if (e.target === f.item) {
      clear(formError);
      renderSuggestions();
      renderSubmit();
    }
  });
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
      return;
    }
    // Alt+1…3 picks a suggestion without leaving the description (e.code: Option+1 on a Mac types "¡").
    const digit = /^Digit([1-9])$/.exec(e.code);
    if (e.altKey && digit && !e.ctrlKey && !e.metaKey) {
      const s = current.suggestions[Number(digit[1]) - 1];
      if (s) {
        e.preventDefault();
        choose(s.item_code);
      }
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (current.result || submit.disabled) return;
    clear(formError);
    if (!form.reportValidity()) return;
    if (!f.item.value) {
      clear(formError, h("p.error", { role: "alert" }, "请先确认服务事项：点选建议（Alt+1～3）或在“服务事项”中选择"));
      (suggestBox.querySelector("button.suggestion") || f.item).focus();
      return;
    }
    const body = {
      caller_phone: f.phone.value.trim(),
      resident_name: f.name.value.trim() || null,
      address: f.address.value.trim() || null,
      description: f.description.value.trim(),
      item_code: f.item.value,
      priority: f.priority.value,
      channel: f.channel.value,
      call_id: current.callId,
    };
    if (current.callback) body.callback_id = current.callback.id;
    const mine = current;
    submit.disabled = true;
    submit.textContent = "提交中…";
    try {
      // The same key for every attempt of this form (kept in its draft across a sign-in): a double
      // click or a retry creates one order.
      const order = await api("/api/v1/orders", { body, headers: { "Idempotency-Key": mine.key } });
      drafts.remove(mine.id);
      if (mine !== current) return; // the operator moved on to another form meanwhile
      current.result = order;
      fieldset.disabled = true;
      clear(notice);
      renderDrafts();
      showResult(order);
      onCreated(order, body);
    } catch (err) {
      if (mine === current) clear(formError, errorLine(err));
    } finally {
      submit.disabled = false;
      renderSubmit();
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
    const next = h("button.primary", { type: "button", onclick: () => load({}) }, "新建下一单");
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
    if (o.status === "received" && o.supervisor_queue_reason) return `已转督办派单：${o.supervisor_queue_reason}`;
    if (o.status === "received")
      return app.catalogue.items.get(o.item_code)?.home_visit === false
        ? "咨询类：未派单，可直接答复办结"
        : "未派单：请在工单中派单";
    return o.status;
  }

  // --- another caller wants the form -------------------------------------------------------------
  function ask(prefill, who) {
    const take = h(
      "button.primary.small",
      {
        type: "button",
        onclick: () => {
          saveDraft();
          load(prefill);
        },
      },
      "保存草稿并接听新来电",
    );
    const keep = h("button.small", { type: "button", onclick: () => clear(notice) }, "继续当前");
    clear(
      notice,
      h("div.conflict", { role: "alert" }, h("span", `${who}：当前表单有未提交的内容，已自动保存为草稿。`), take, keep),
    );
    take.focus({ preventScroll: true });
  }

  fillItemSelect();
  const restored = drafts.list()[0];
  if (restored) load({ callKey: restored.callKey, callId: restored.callId, callback: restored.callback });
  else load({});

  return {
    el: h("div.intake-wrap", formBox, resultBox),
    /** True while the form holds typed text that was not submitted. */
    pending: () => current.dirty && !current.result,
    offer(prefill, who) {
      if (draftId({ callKey: prefill.callKey, callbackId: prefill.callback?.id }) === current.id) {
        // The same caller again: keep what is typed, and learn the call id.
        if (prefill.callId != null && current.callId == null) current.callId = prefill.callId;
        renderLinks();
        return true;
      }
      if (current.dirty && !current.result) {
        ask(prefill, who);
        return false;
      }
      load(prefill);
      return true;
    },
    fill(prefill) {
      saveDraft();
      load(prefill);
    },
    linkCall(key, id) {
      if (key && current.callKey === key && current.callId == null) {
        current.callId = id;
        saveDraft();
        renderLinks();
      }
    },
  };
}
