// One request as its resident sees it: the status in plain words, who is coming (the
// organisation's name and the worker's first name, nothing more about staff), the timeline the
// resident may see, and what they can do now, as the server says (can_cancel, can_rate,
// can_rework): cancel before the visit starts, rate after completion, ask for rework after a
// low rating. The screen reads the request again every 15 seconds while it is open, so a worker's
// progress appears without a reload; an action form being filled in is left alone.

import { api } from "./api.js";
import { el, heading, newKey, problem, show, when, windowText } from "./dom.js";
import { channel } from "./pwa.js";

const POLL_MS = 15000;
const FINISHED = ["completed", "closed", "cancelled"];
const STARS = [
  [5, "非常满意"],
  [4, "满意"],
  [3, "基本满意"],
  [2, "不满意"],
  [1, "非常不满意"],
];
const CANCEL_REASONS = ["问题已经解决了", "不需要了", "重复提交了"];

export function requestScreen(view, [id]) {
  const info = el("div", { "aria-live": "polite" }, el("p", { class: "hint" }, "正在读取…"));
  const actions = el("section", { class: "actions", "aria-label": "我能做的" });
  const said = el("div", { "aria-live": "assertive" });
  const urls = [];
  let flags = "";
  let formOpen = false;
  let timer = 0;
  let stopped = false;

  const load = async () => {
    clearTimeout(timer);
    if (document.hidden && flags) {
      timer = setTimeout(load, POLL_MS); // nobody is looking: ask again later
      return;
    }
    try {
      const request = await api(`/api/v1/r/requests/${id}`);
      if (stopped) return;
      show(info, details(request, urls));
      const now = JSON.stringify([request.can_cancel, request.can_rate, request.can_rework, request.status]);
      if (now !== flags && !formOpen) {
        flags = now;
        show(actions, offer(request));
      }
    } catch (err) {
      if (stopped) return;
      if (err.status === 404) return show(info, el("p", { class: "problem" }, "没有找到这条求助"));
      show(said, problem(err));
    }
    if (!stopped) timer = setTimeout(load, POLL_MS);
  };

  /** An action sent: say so, close the form and read the request again. */
  const acted = (text) => {
    formOpen = false;
    flags = "";
    show(said, el("p", { class: "ok", role: "status" }, text));
    load();
  };

  /** A form of its own in the actions area; `cancel` puts the buttons back. */
  const openForm = (form) => {
    formOpen = true;
    show(said);
    show(actions, form);
    form.querySelector("button, textarea")?.focus();
  };
  const closeForm = () => {
    formOpen = false;
    flags = "";
    load();
  };

  const offer = (request) => {
    const buttons = [];
    if (request.can_rate) buttons.push(rateForm(request, acted));
    if (request.can_rework) {
      buttons.push(
        el("button", { type: "button", class: "big", onclick: () => openForm(reworkForm(request, acted, closeForm)) }, "申请重办"),
      );
    }
    if (request.can_cancel) {
      buttons.push(
        el(
          "button",
          { type: "button", class: "big danger", onclick: () => openForm(cancelForm(request, acted, closeForm)) },
          "撤销求助",
        ),
      );
    }
    return buttons;
  };

  show(
    view,
    el("a", { href: "#/requests", class: "back" }, "‹ 我的求助"),
    heading("求助详情"),
    info,
    said,
    actions,
  );
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    urls.forEach((u) => URL.revokeObjectURL(u));
  };
}

function details(r, urls) {
  const coming = [r.provider_name, r.worker_first_name ? `服务人员：${r.worker_first_name}` : ""].filter(Boolean);
  return [
    el("p", { class: `status big-status status-${r.status}` }, r.status_text),
    r.safety_notice && !FINISHED.includes(r.status) ? el("div", { class: "notice" }, "安全提示：", r.safety_notice) : null,
    el(
      "dl",
      { class: "summary" },
      item("服务", [r.category_name, r.item_name].filter(Boolean).join(" · ") || "待确认"),
      item("单号", r.number),
      coming.length ? item("谁来服务", coming.join("，")) : null,
      item("希望上门", windowText(r.preferred_from, r.preferred_to)),
      item("地址", r.address),
      item("情况", r.description),
      r.rating ? item("我的评价", ratingText(r.rating)) : null,
    ),
    r.photos?.length ? photoStrip(r, urls) : null,
    el("h2", {}, "进展"),
    el(
      "ol",
      { class: "timeline" },
      [...r.timeline]
        .reverse()
        .map((e) => el("li", { data: { code: e.code } }, el("time", { datetime: e.at }, when(e.at)), el("span", {}, e.text))),
    ),
  ];
}

const item = (label, value) => el("div", { class: "summary-row" }, el("dt", {}, label), el("dd", {}, value || "—"));

function ratingText({ stars, comment }) {
  const words = STARS.find(([n]) => n === stars)?.[1] || "";
  return `${"★".repeat(stars)}${"☆".repeat(5 - stars)} ${words}${comment ? `：${comment}` : ""}`;
}

/** The request's photos, fetched with the sign-in (an <img src> could not send it). */
function photoStrip(r, urls) {
  const strip = el("div", { class: "thumbs" });
  r.photos.forEach(async (photoId, i) => {
    const img = el("img", { alt: `照片 ${i + 1}` });
    strip.append(el("figure", { class: "thumb" }, img));
    try {
      const blob = await api(`/api/v1/r/requests/${r.id}/photos/${photoId}`, { blob: true });
      const url = URL.createObjectURL(blob);
      urls.push(url);
      img.src = url;
    } catch {
      img.alt = "照片暂时无法显示";
    }
  });
  return strip;
}

/** One action's request with its own Idempotency-Key, kept while its form is on screen. */
function sender(path) {
  const key = newKey();
  return (body) => api(path, { body: { ...body, channel: channel() }, key });
}

function sendButton(label, form, send, done, className = "big primary") {
  const message = el("div");
  const button = el("button", { type: "submit", class: className }, label);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    show(message);
    try {
      done(await send());
    } catch (err) {
      button.disabled = false;
      show(message, problem(err));
    }
  });
  return [message, button];
}

function cancelForm(r, acted, back) {
  const send = sender(`/api/v1/r/requests/${r.id}/cancel`);
  let reason = "";
  const chips = el(
    "div",
    { class: "chips", role: "group", "aria-label": "撤销原因（可不选）" },
    CANCEL_REASONS.map((text) =>
      el(
        "button",
        {
          type: "button",
          class: "chip",
          "aria-pressed": "false",
          onclick: (event) => {
            reason = reason === text ? "" : text;
            for (const chip of chips.children) chip.setAttribute("aria-pressed", String(chip.textContent === reason));
            event.currentTarget.blur();
          },
        },
        text,
      ),
    ),
  );
  const form = el("form", { class: "stack panel" });
  form.append(
    el("h2", {}, "确定要撤销这次求助吗？"),
    el("p", {}, "撤销后服务人员不会再上门。原因（可不选）："),
    chips,
    ...sendButton("确定撤销", form, () => send(reason ? { reason } : {}), () => acted("已撤销这次求助"), "big danger"),
    el("button", { type: "button", class: "big", onclick: back }, "不撤销"),
  );
  return form;
}

function rateForm(r, acted) {
  const send = sender(`/api/v1/r/requests/${r.id}/rate`);
  let stars = 0;
  const comment = el("textarea", { id: "rating-comment", rows: "3", maxlength: "500", placeholder: "可以不写" });
  const buttons = el(
    "div",
    { class: "stars", role: "radiogroup", "aria-label": "打分" },
    STARS.map(([n, words]) =>
      el(
        "button",
        {
          type: "button",
          role: "radio",
          class: "star",
          "aria-checked": "false",
          data: { stars: String(n) },
          onclick: () => {
            stars = n;
            for (const b of buttons.children) b.setAttribute("aria-checked", String(Number(b.dataset.stars) === n));
          },
        },
        el("span", { class: "glyphs", "aria-hidden": "true" }, "★".repeat(n)),
        ` ${n} 星 ${words}`,
      ),
    ),
  );
  const form = el("form", { class: "stack panel" });
  const submit = () => {
    if (!stars) return Promise.reject(Object.assign(new Error("no stars"), { zh: "请先点选几颗星" }));
    const text = comment.value.trim();
    return send(text ? { stars, comment: text } : { stars });
  };
  const thanks = () => acted(stars <= 2 ? "谢谢您的评价。没有解决好的话，可以申请重办。" : "谢谢您的评价！");
  form.append(
    el("h2", {}, "这次服务您满意吗？"),
    buttons,
    el("label", { for: "rating-comment" }, "想说的话"),
    comment,
    ...sendButton("提交评价", form, submit, thanks),
  );
  return form;
}

function reworkForm(r, acted, back) {
  const send = sender(`/api/v1/r/requests/${r.id}/rework`);
  const reason = el("textarea", { id: "rework-reason", rows: "3", maxlength: "500", placeholder: "例如：水管还是漏水" });
  const form = el("form", { class: "stack panel" });
  form.append(
    el("h2", {}, "申请重办"),
    el("p", {}, "我们会重新安排服务人员上门。"),
    el("label", { for: "rework-reason" }, "哪里还没有解决好？"),
    reason,
    ...sendButton(
      "确认申请重办",
      form,
      () => send(reason.value.trim() ? { reason: reason.value.trim() } : {}),
      () => acted("已申请重办，我们会重新安排"),
    ),
    el("button", { type: "button", class: "big", onclick: back }, "返回"),
  );
  return form;
}
