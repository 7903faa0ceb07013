// Home: the three things a resident comes for, as large buttons: ask for help, see how my
// requests are going, or call the hotline.

import { api } from "./api.js";
import { config, hotlineHref } from "./config.js";
import { el, heading, show } from "./dom.js";

export function homeScreen(view) {
  const greeting = el("p", { class: "lead" }, "您好！需要帮助时，在这里告诉我们。");
  show(
    view,
    heading("社区服务"),
    greeting,
    el(
      "nav",
      { class: "menu", "aria-label": "主要功能" },
      el("a", { href: "#/new", class: "big primary button" }, "新的求助"),
      el("a", { href: "#/requests", class: "big button" }, "我的求助"),
      config.hotline
        ? el("a", { href: hotlineHref(), class: "big button" }, `拨打服务热线 ${config.hotline}`)
        : null,
      el("a", { href: "#/profile", class: "button" }, "我的资料"),
    ),
  );
  api("/api/v1/r/me")
    .then((me) => {
      if (me.name) greeting.textContent = `${me.name}，您好！需要帮助时，在这里告诉我们。`;
    })
    .catch(() => {}); // the greeting without a name is as good
}
