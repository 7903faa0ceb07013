// The resident's signature at completion, drawn with a finger (pointer events) on a canvas, with
// 撤销 (the last stroke) and 清除; or 无法签字 with a reason. value() is the API's signature:
// {image: PNG data URL} | {unable: true, reason} | null (nothing yet).

import { h } from "./ui.js";

export const UNABLE_REASONS = ["居民行动不便", "居民视力不佳", "居民不在场（家属确认）", "居民拒绝签字"];

export function signaturePad() {
  const canvas = h("canvas.signature-canvas", { width: 600, height: 240, "aria-label": "签名区" });
  const ctx = canvas.getContext("2d");
  const strokes = [];
  let current = null;

  const redraw = () => {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.lineWidth = 3;
    ctx.lineCap = ctx.lineJoin = "round";
    for (const stroke of strokes) {
      ctx.beginPath();
      stroke.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    }
  };
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    current = [point(e)];
    strokes.push(current);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    current.push(point(e));
    redraw();
  });
  const end = () => {
    current = null;
    redraw();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);

  const unable = h("input", { type: "checkbox", name: "unable" });
  const reason = h("input", { name: "unable_reason", maxLength: 200, placeholder: "无法签字的原因", hidden: true });
  const chips = h(
    "div.reason-chips",
    { hidden: true },
    UNABLE_REASONS.map((r) => h("button", { type: "button", onclick: () => (reason.value = r) }, r)),
  );
  unable.addEventListener("change", () => {
    reason.hidden = chips.hidden = !unable.checked;
    canvas.hidden = !!unable.checked;
  });
  const el = h(
    "div.signature",
    h("div.muted.small", "请居民在下方签名"),
    canvas,
    h(
      "div.row",
      h("button", { type: "button", onclick: () => (strokes.pop(), redraw()) }, "撤销"),
      h("button", { type: "button", onclick: () => ((strokes.length = 0), redraw()) }, "清除"),
      h("label.check", unable, "居民无法签字"),
    ),
    chips,
    reason,
  );
  return {
    el,
    value() {
      if (unable.checked) return reason.value.trim() ? { unable: true, reason: reason.value.trim() } : null;
      return strokes.length ? { image: canvas.toDataURL("image/png") } : null;
    },
  };
}
