// 我的求助: the resident's own requests, newest first, each with its status in plain words.

import { api } from "./api.js";
import { el, heading, problem, show, when } from "./dom.js";

const PAGE = 20;

export function requestsScreen(view) {
  const list = el("ul", { class: "cards", "aria-label": "我的求助" });
  const more = el("button", { type: "button", class: "big", hidden: true }, "显示更多");
  const status = el("div", { "aria-live": "polite" }, el("p", { class: "hint" }, "正在读取…"));
  let shown = 0;

  const load = async () => {
    more.disabled = true;
    try {
      const page = await api("/api/v1/r/requests", { query: { limit: PAGE, offset: shown } });
      list.append(...page.items.map(card));
      shown += page.items.length;
      more.hidden = shown >= page.total;
      show(
        status,
        page.total
          ? null
          : [el("p", { class: "lead" }, "您还没有求助记录。"), el("a", { href: "#/new", class: "big primary button" }, "新的求助")],
      );
    } catch (err) {
      show(status, problem(err));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  show(view, heading("我的求助"), status, list, more);
  load();
}

function card(request) {
  return el(
    "li",
    {},
    el(
      "a",
      { href: `#/requests/${request.id}`, class: "card", data: { status: request.status } },
      el("span", { class: "card-title" }, request.item_name || "求助"),
      el("span", { class: `status status-${request.status}` }, request.status_text),
      el("span", { class: "hint" }, `${when(request.created_at)} · 单号 ${request.number}`),
    ),
  );
}
