// Signing in: the resident's mobile number, then the code the server sends to it by SMS. No
// password to remember; the account is the resident record of that number.

import { api, session } from "./api.js";
import { config } from "./config.js";
import { el, heading, messageOf, phoneText, show } from "./dom.js";
import { signedIn } from "./nav.js";

export function signInScreen(view) {
  askPhone(view, "");
}

const digitsOf = (text) => text.replace(/^\s*\+86/, "").replace(/\D/g, "");

function askPhone(view, phone, problemText = "", waitSeconds = 0) {
  const input = el("input", {
    id: "phone",
    type: "tel",
    inputmode: "numeric",
    autocomplete: "tel-national",
    maxlength: "20",
    value: phone,
    required: true,
  });
  const message = el("p", { class: "problem", role: "alert", hidden: !problemText }, problemText);
  const send = el("button", { type: "submit", class: "big primary" }, "获取验证码");
  const form = el(
    "form",
    { class: "stack", novalidate: true },
    el("label", { for: "phone" }, "手机号码"),
    input,
    message,
    send,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = digitsOf(input.value);
    if (number.length < 11) {
      message.textContent = "请输入 11 位手机号码";
      message.hidden = false;
      return input.focus();
    }
    send.disabled = true;
    send.textContent = "正在发送…";
    try {
      const sent = await api("/api/v1/r/auth/code", { body: { phone: number } });
      askCode(view, number, sent);
    } catch (err) {
      message.textContent = messageOf(err);
      message.hidden = false;
      send.textContent = "获取验证码";
      countDown(send, err.retryAfter, "获取验证码");
    }
  });
  show(
    view,
    heading("登录"),
    el("p", { class: "lead" }, "请输入您的手机号码，我们会发一条短信验证码给您。"),
    form,
    config.hotline ? el("p", { class: "hint" }, "不方便上网？请拨打下方的服务热线。") : null,
  );
  countDown(send, waitSeconds, "获取验证码");
  input.focus();
}

function askCode(view, phone, sent) {
  const length = config.code_length || 6;
  const input = el("input", {
    id: "code",
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]*",
    maxlength: String(length),
    class: "code",
    required: true,
  });
  const message = el("p", { class: "problem", role: "alert", hidden: true });
  const submit = el("button", { type: "submit", class: "big primary" }, "登录");
  const resend = el("button", { type: "button", class: "big" }, "重新获取验证码");
  const other = el("button", { type: "button", class: "link" }, "换一个手机号码");
  const form = el(
    "form",
    { class: "stack", novalidate: true },
    el("label", { for: "code" }, `${length} 位验证码`),
    input,
    message,
    submit,
  );
  const fail = (text) => {
    message.textContent = text;
    message.hidden = false;
    input.select();
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.replace(/\D/g, "");
    if (code.length !== length) return fail(`请输入短信里的 ${length} 位数字`);
    submit.disabled = true;
    try {
      const out = await api("/api/v1/r/auth/token", { body: { phone, code } });
      session.token = out.access_token;
      signedIn();
    } catch (err) {
      submit.disabled = false;
      fail(messageOf(err));
      // A spent or expired code cannot be tried again: only a new one helps.
      if (["code_expired", "code_exhausted"].includes(err.code)) input.value = "";
    }
  });
  // The whole code typed (or filled in from the SMS): sign in without another tap.
  input.addEventListener("input", () => {
    if (input.value.replace(/\D/g, "").length === length && !submit.disabled) form.requestSubmit();
  });
  resend.addEventListener("click", async () => {
    resend.disabled = true;
    try {
      const sent = await api("/api/v1/r/auth/code", { body: { phone } });
      message.hidden = true;
      input.value = "";
      input.focus();
      countDown(resend, sent.resend_after ?? 60, "重新获取验证码");
    } catch (err) {
      fail(messageOf(err));
      countDown(resend, err.retryAfter, "重新获取验证码");
    }
  });
  other.addEventListener("click", () => askPhone(view, phone));

  show(
    view,
    heading("输入验证码"),
    el(
      "p",
      { class: "lead" },
      "验证码已发送到 ",
      el("strong", {}, phoneText(phone)),
      `，${Math.round((sent.expires_in || 300) / 60)} 分钟内有效。`,
    ),
    form,
    resend,
    other,
  );
  countDown(resend, sent.resend_after ?? 60, "重新获取验证码");
  input.focus();
}

/** Keep `button` disabled for `seconds`, saying how long is left ("重新获取验证码（58 秒）"). */
function countDown(button, seconds, label) {
  let left = Math.ceil(seconds || 0);
  if (left <= 0) {
    button.disabled = false;
    button.textContent = label;
    return;
  }
  button.disabled = true;
  const tick = () => {
    if (!button.isConnected || left <= 0) {
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.textContent = `${label}（${left} 秒）`;
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
}
