// The worker's actions on a card, made for a thumb: 签收 in one tap; 退单 with a reason chip and a
// confirm; 到场签到 from the phone's position; 办结 with the note (and, once the server takes them,
// photos and the resident's signature); 签退 once the server lists it. Every action goes through
// the outbox: sent at once when online, else kept and sent when the connection returns.

import { capabilities } from "./capabilities.js";
import { photoPicker } from "./photos.js";
import { signaturePad } from "./signature.js";
import { errorLine, h } from "./ui.js";

// Reasons a worker returns an offer for most often (offered as chips; any other may be typed).
export const RETURN_REASONS = ["人手不足", "超出服务范围", "今天排满了", "距离太远", "居民要求的时间无法满足", "缺少配件"];

const LABELS = { accept: "签收", decline: "退单", "check-in": "到场签到", complete: "办结", "check-out": "签退" };

// What an order will look like once the waiting actions are sent, so the next step can be taken
// offline (check in, then complete). The server decides when they arrive; a refusal comes back as a
// conflict and the order is shown as the server has it.
const AFTER = {
  accept: { status: "accepted", allowed_actions: ["check-in"] },
  "check-in": { status: "in_service", allowed_actions: ["complete"] },
  complete: { status: "completed", allowed_actions: [] },
  decline: { status: "returned", allowed_actions: [] },
  "check-out": null,
};

export function predicted(o, waiting) {
  let out = o;
  for (const item of waiting) {
    const next = AFTER[item.verb];
    out = next ? { ...out, ...next } : { ...out, allowed_actions: out.allowed_actions.filter((v) => v !== item.verb) };
  }
  return out;
}

export function position() {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) return reject(new Error("浏览器无法定位"));
    navigator.geolocation.getCurrentPosition(
      (pos) => resolve({ lat: +pos.coords.latitude.toFixed(6), lon: +pos.coords.longitude.toFixed(6) }),
      (err) => reject(new Error(err.message || "定位失败")),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}

/**
 * The action buttons of a card (o as it will be once the waiting actions are sent).
 * take(verb, body, extra) hands an action to the outbox and resolves when it is sent or queued.
 */
export function workerActions(o, take) {
  const verbs = (o.allowed_actions || []).filter((v) => v in LABELS);
  const bar = h("div.actions");
  if (!verbs.length) return bar;
  const buttons = h("div.action-buttons");
  const slot = h("div.action-slot");
  bar.append(buttons, slot);
  const error = (err) => slot.append(errorLine(err));

  const run = async (button, verb, body, extra) => {
    button.disabled = true;
    slot.querySelector(":scope > .error")?.remove();
    try {
      await take(verb, body, extra);
    } catch (err) {
      error(err);
      button.disabled = false;
    }
  };

  const open = (verb, build) => {
    if (slot.dataset.verb === verb) {
      slot.replaceChildren();
      delete slot.dataset.verb;
      return;
    }
    slot.dataset.verb = verb;
    slot.replaceChildren(build());
  };

  const decline = () => {
    const input = h("input", { name: "reason", maxLength: 300, required: true, placeholder: "退单原因" });
    const ok = h("button.danger", { type: "submit" }, "确认退单");
    const chips = RETURN_REASONS.map((r) =>
      h("button", { type: "button", onclick: () => ((input.value = r), ok.focus()) }, r),
    );
    return h(
      "form.action-form",
      {
        onsubmit: (e) => {
          e.preventDefault();
          if (input.value.trim()) run(ok, "decline", { reason: input.value.trim() });
        },
      },
      h("div.reason-chips", { role: "group", "aria-label": "退单原因" }, chips),
      h("label", "退单原因", input),
      h("div.row", ok, h("button.ghost", { type: "button", onclick: () => open("decline") }, "取消")),
    );
  };

  // By the phone's position; where it cannot be had, typed in.
  const checkIn = async (button) => {
    button.disabled = true;
    const status = h("p.muted", { role: "status" }, "正在定位…");
    slot.replaceChildren(status);
    try {
      const where = await position();
      slot.replaceChildren();
      await run(button, "check-in", where);
    } catch (err) {
      button.disabled = false;
      slot.replaceChildren(manualCheckIn(`${err.message}，请手工填写坐标`));
    }
  };
  const manualCheckIn = (why) => {
    const lat = h("input", { name: "lat", type: "number", step: "any", min: -90, max: 90, required: true, inputmode: "decimal" });
    const lon = h("input", { name: "lon", type: "number", step: "any", min: -180, max: 180, required: true, inputmode: "decimal" });
    const ok = h("button.primary", { type: "submit" }, "提交签到");
    return h(
      "form.action-form",
      { onsubmit: (e) => (e.preventDefault(), run(ok, "check-in", { lat: Number(lat.value), lon: Number(lon.value) })) },
      h("p.warn", why),
      h("label", "纬度", lat),
      h("label", "经度", lon),
      h("div.row", ok),
    );
  };

  const complete = () => {
    const note = h("textarea", { name: "note", rows: 3, required: true, maxLength: 2000 });
    const extras = h("div");
    const ok = h("button.primary", { type: "submit" }, "提交办结");
    let photos = null;
    let signature = null;
    capabilities().then((can) => {
      if (can.photos) extras.append(h("h3", "现场照片（最多 6 张）"), (photos = photoPicker()).el);
      if (can.signature) extras.append(h("h3", "居民签名"), (signature = signaturePad()).el);
    });
    return h(
      "form.action-form",
      {
        onsubmit: (e) => {
          e.preventDefault();
          const body = { note: note.value.trim() };
          if (signature) {
            body.signature = signature.value();
            if (!body.signature) return error({ zh: "请居民签名，或勾选“居民无法签字”并填写原因" });
          }
          // Sent with the completion (outbox.js): each a step, uploaded first.
          const steps = photos ? photos.photos().map((blob, n) => ({ n, blob, id: null })) : [];
          run(ok, "complete", body, steps.length ? { steps } : {});
        },
      },
      h("label", "办理情况", note),
      extras,
      h("div.row", ok, h("button.ghost", { type: "button", onclick: () => open("complete") }, "取消")),
    );
  };

  for (const verb of verbs) {
    const primary = ["accept", "check-in"].includes(verb) || (verb === "complete" && o.status === "in_service");
    const button = h(verb === "decline" ? "button" : primary ? "button.primary" : "button", { type: "button" }, LABELS[verb]);
    button.addEventListener("click", () => {
      if (verb === "accept") run(button, "accept");
      else if (verb === "decline") open("decline", decline);
      else if (verb === "check-in") checkIn(button);
      else if (verb === "complete") open("complete", complete);
      else if (verb === "check-out") position().then((p) => run(button, "check-out", p), () => run(button, "check-out", {}));
    });
    buttons.append(button);
  }
  return bar;
}

export const verbLabel = (verb) => LABELS[verb] || verb;
