// 我的资料: the name and the usual address (which a new request starts from), the number signed
// in with, and signing out.

import { api, session } from "./api.js";
import { el, heading, phoneText, problem, show } from "./dom.js";
import { go } from "./nav.js";

export function profileScreen(view) {
  const body = el("div", {}, el("p", { class: "hint" }, "正在读取…"));
  show(view, heading("我的资料"), body, signOutButton());
  api("/api/v1/r/me")
    .then((me) => show(body, profileForm(me)))
    .catch((err) => show(body, problem(err)));
}

function profileForm(me) {
  const name = el("input", { id: "name", type: "text", autocomplete: "name", maxlength: "50", value: me.name || "" });
  const address = el("input", {
    id: "home-address",
    type: "text",
    autocomplete: "street-address",
    maxlength: "200",
    value: me.address || "",
  });
  const said = el("div", { "aria-live": "polite" });
  const save = el("button", { type: "submit", class: "big primary" }, "保存");
  const form = el(
    "form",
    { class: "stack" },
    el("p", {}, "手机号码：", el("strong", {}, phoneText(me.phone))),
    me.community ? el("p", {}, "所在社区：", el("strong", {}, me.community)) : null,
    el("label", { for: "name" }, "称呼"),
    name,
    el("label", { for: "home-address" }, "常用地址"),
    address,
    said,
    save,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    save.disabled = true;
    try {
      // A field left empty is left as it was (the server keeps no empty name or address).
      const body = Object.fromEntries(
        Object.entries({ name: name.value.trim(), address: address.value.trim() }).filter(([, v]) => v),
      );
      await api("/api/v1/r/me", { method: "PATCH", body });
      show(said, el("p", { class: "ok", role: "status" }, "已保存"));
    } catch (err) {
      show(said, problem(err));
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function signOutButton() {
  return el(
    "button",
    {
      type: "button",
      class: "big",
      onclick: async () => {
        try {
          await api("/api/v1/r/auth/signout", { method: "POST" });
        } catch {
          // offline or already over: forgetting the token here still signs this device out
        }
        session.token = null;
        go("signin");
      },
    },
    "退出登录",
  );
}
