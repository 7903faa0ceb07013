// Masked phone numbers and 查看号码. The server shows residents' numbers masked (138****8000)
// except where a role needs them (dispatch/residents/privacy.py); the call centre sees one whole
// on demand, saying why: POST /api/v1/phones/reveal records who, whose number and the reason.

import { api } from "./api.js";
import { clear, errorLine, h, phoneLink } from "./ui.js";

// Offered as chips in the reason dialog; anything else may be typed.
export const REVEAL_REASONS = ["回访评价", "回拨来电", "派单联系居民", "核实居民信息", "为居民登记工单"];

/**
 * The whole number behind a masked one: target is {order_id}, {callback_id}, {call_id} or
 * {resident_id}; reason is kept in the access trail. Resolves to {e164, national}.
 */
export async function revealNumber(target, reason) {
  const { phones } = await api("/api/v1/phones/reveal", { body: { ...target, reason } });
  return phones[0];
}

/** Clicks and keys inside a table row stay in the control (a row opens its record on both). */
function own(el) {
  el.addEventListener("click", (e) => e.stopPropagation());
  el.addEventListener("keydown", (e) => e.key === "Enter" && e.stopPropagation());
  return el;
}

/**
 * The 查看号码 dialog: why the whole number is needed (a chip or typed; required), then the
 * reveal. Resolves to {e164, national}, or null when cancelled. A refusal stays in the dialog.
 */
export function askAndReveal(masked, target, reason = "") {
  return new Promise((resolve) => {
    let revealed = null;
    const input = h("input", {
      name: "reason",
      required: true,
      minLength: 2,
      maxLength: 200,
      autocomplete: "off",
      value: reason,
      placeholder: "选择或填写原因",
      "aria-label": "查看原因",
    });
    const chips = REVEAL_REASONS.map((r) =>
      h("button.reason-chip", { type: "button", "aria-pressed": "false", onclick: () => choose(r) }, r),
    );
    const markChips = () => {
      for (const chip of chips) chip.setAttribute("aria-pressed", String(chip.textContent === input.value.trim()));
    };
    const choose = (r) => {
      input.value = r;
      markChips();
      input.focus();
    };
    input.addEventListener("input", markChips);
    const error = h("div");
    const submit = h("button.primary", { type: "submit" }, "查看号码");
    const form = h(
      "form.reveal-form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          if (!form.reportValidity()) return;
          submit.disabled = true;
          clear(error);
          try {
            revealed = await revealNumber(target, input.value.trim());
            dialog.close();
          } catch (err) {
            submit.disabled = false;
            clear(error, errorLine(err));
          }
        },
      },
      h("h2", "查看完整号码"),
      h("p", "号码 ", h("strong.masked", masked), "：请说明查看原因，将记入访问记录。"),
      h("div.reason-chips", { role: "group", "aria-label": "常用原因" }, chips),
      h("label", "查看原因 *", input),
      error,
      h("div.row", submit, h("button.ghost", { type: "button", onclick: () => dialog.close() }, "取消")),
    );
    // In <body>, not in the table row it was opened from: its clicks must not open the row's record.
    const dialog = h("dialog.reveal-dialog", { "aria-label": "查看号码" }, form);
    // Esc closes the dialog only, not the record behind it.
    dialog.addEventListener("keydown", (e) => e.key === "Escape" && e.stopPropagation());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(revealed);
    });
    document.body.append(dialog);
    markChips();
    dialog.showModal();
    input.focus();
  });
}

/**
 * A masked number with 查看号码: the dialog asks why (a reason is required and recorded), then
 * the number is shown as a tel: link. reason: a reason to offer first (回访评价 in the rating
 * worklist); onRevealed({e164, national}) runs after.
 */
export function revealablePhone(masked, target, { reason = "", onRevealed } = {}) {
  const box = own(h("span.revealable"));
  const button = h(
    "button.link.small.reveal",
    {
      type: "button",
      title: "查看完整号码（需填写原因，记入访问记录）",
      onclick: async () => {
        const phone = await askAndReveal(masked, target, reason);
        if (!phone) return button.focus();
        clear(box, phoneLink(phone.e164, phone.national));
        onRevealed?.(phone);
      },
    },
    "查看号码",
  );
  clear(box, h("span.masked", { title: "号码已隐藏：点“查看号码”并填写原因后显示" }, masked), " ", button);
  return box;
}

/**
 * An order's number as this user may see it (caller_phone_access): the whole number; masked
 * with 查看号码 (the call centre); masked with a way to the order's detail (a provider's own
 * order: showDetail()); or masked.
 */
export function orderPhone(o, { reason = "", showDetail } = {}) {
  if (o.caller_phone) return phoneLink(o.caller_phone, o.caller_phone_national);
  if (!o.caller_phone_national) return h("span.muted", "—");
  if (o.caller_phone_access === "reveal") return revealablePhone(o.caller_phone_national, { order_id: o.id }, { reason });
  if (o.caller_phone_access === "detail" && showDetail)
    return own(
      h(
        "span.revealable",
        h("span.masked", o.caller_phone_national),
        " ",
        h("button.link.small.reveal", { type: "button", onclick: showDetail, title: "打开工单详情查看完整号码" }, "查看号码"),
      ),
    );
  return h("span.masked", o.caller_phone_national);
}
