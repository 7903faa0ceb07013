// How a call or a callback ended for the centre (生成工单, 咨询已答复, 打错电话, 骚扰电话, 重复来电,
// 多次未接通): a row of buttons, then for the one picked a small form (the open order it repeats,
// a note) and 确认. Used by the callback worklist and by an answered call that made no order.

import { OUTCOME_LABELS, STATUS_LABELS, clear, errorLine, h } from "./ui.js";

// What an answered call that made no order can be marked as (POST /api/v1/calls/{id}/outcome).
export const CALL_OUTCOMES = ["answered", "wrong_number", "nuisance", "duplicate"];
export const UNREACHABLE_AFTER = 3; // call-back attempts before 多次未接通 may close a callback

/**
 * outcomePicker({ codes, openOrders, attempts, itemName, onOrder, onSubmit }) → element
 *
 * - codes: the outcomes offered, in order. "order" is a button that runs onOrder() (opening the
 *   intake form) rather than closing anything here.
 * - openOrders: the resident's open orders [{id, number, status, item_code}] for 重复来电, or a
 *   function that fetches them when it is picked.
 * - attempts: call-back attempts so far; 多次未接通 is enabled from UNREACHABLE_AFTER.
 * - withNote: ask for a note (a callback keeps one; a call's outcome has none).
 * - onSubmit({outcome, order_id, note?}) → a promise; a refusal is shown under the form.
 */
export function outcomePicker({
  codes,
  openOrders = [],
  attempts = 0,
  itemName = (c) => c,
  withNote = true,
  onOrder,
  onSubmit,
}) {
  const buttons = h("div.outcome-buttons", { role: "group", "aria-label": "结果" });
  const slot = h("div.outcome-slot");
  const el = h("div.outcomes", buttons, slot);
  let picked = null;

  async function orders() {
    return typeof openOrders === "function" ? await openOrders() : openOrders;
  }

  async function pick(code, button) {
    for (const b of buttons.children) b.setAttribute("aria-pressed", String(b === button && picked !== code));
    if (picked === code) {
      picked = null;
      return clear(slot);
    }
    picked = code;
    const note = withNote
      ? h("input", { name: "note", maxLength: 500, placeholder: "备注（可空）", "aria-label": "备注" })
      : null;
    const confirmButton = h("button.primary", { type: "submit" }, `确认：${OUTCOME_LABELS[code]}`);
    const error = h("div");
    let orderSelect = null;
    const form = h("form.outcome-form", note, h("div.row", confirmButton), error);
    if (code === "duplicate") {
      orderSelect = h("select", { name: "order_id", required: true, "aria-label": "关联在办工单" });
      form.prepend(h("label", "关联在办工单 *", orderSelect));
      orderSelect.append(h("option", { value: "" }, "加载中…"));
      orders()
        .then((list) => {
          clear(
            orderSelect,
            h("option", { value: "" }, list.length ? "选择重复的工单" : "该居民没有在办工单"),
            list.map((o) =>
              h(
                "option",
                { value: o.id },
                `${o.number} · ${itemName(o.item_code)} · ${STATUS_LABELS[o.status] || o.status}`,
              ),
            ),
          );
          if (list.length === 1) orderSelect.value = String(list[0].id);
        })
        .catch((err) => clear(error, errorLine(err)));
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      confirmButton.disabled = true;
      clear(error);
      try {
        const body = { outcome: code, order_id: orderSelect ? Number(orderSelect.value) : null };
        if (note) body.note = note.value.trim();
        await onSubmit(body);
      } catch (err) {
        clear(error, errorLine(err));
      } finally {
        confirmButton.disabled = false;
      }
    });
    clear(slot, form);
    (orderSelect || confirmButton).focus();
  }

  const noOpenOrders = Array.isArray(openOrders) && !openOrders.length;
  for (const code of codes) {
    const locked = (code === "unreachable" && attempts < UNREACHABLE_AFTER) || (code === "duplicate" && noOpenOrders);
    const button = h(
      code === "order" ? "button.primary.small" : "button.small",
      {
        type: "button",
        dataset: { outcome: code },
        disabled: locked,
        title: !locked
          ? null
          : code === "duplicate"
            ? "该居民没有在办工单"
            : `回拨满 ${UNREACHABLE_AFTER} 次后可选（已回拨 ${attempts} 次）`,
        "aria-pressed": code === "order" ? null : "false",
      },
      OUTCOME_LABELS[code],
    );
    button.addEventListener("click", () => (code === "order" ? onOrder() : pick(code, button)));
    buttons.append(button);
  }
  return el;
}
