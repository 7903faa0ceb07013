// 管理 › 登录记录 (admins only): every sign-in attempt, newest first — who tried which account
// from which address and what came of it, to see someone guessing passwords. Read-only.
// Filters live in the URL (#/admin?section=attempts&username=wang&success=false&day=2026-12-01).

import { h, localMidnight, timeEl } from "./ui.js";
import { changed, onFilter, select } from "./admin-kit.js";
import { pagedTable } from "./paged-table.js";

// dispatch/auth/throttle.py's outcomes.
const OUTCOMES = {
  ok: ["登录成功", "on"],
  wrong_password: ["密码错误", "off"],
  unknown_user: ["用户名不存在", "off"],
  inactive: ["账号已停用", "off"],
  throttled: ["失败过多，已限制", "off"],
  pending: ["校验中", ""],
};

function nextDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  const next = new Date(y, m - 1, d + 1);
  const pad = (n) => String(n).padStart(2, "0");
  return `${next.getFullYear()}-${pad(next.getMonth() + 1)}-${pad(next.getDate())}`;
}

export function attemptsSection(app, go) {
  let params = {};
  let loaded = false;
  const filters = {
    username: h("input", { type: "search", name: "username", placeholder: "用户名（完整）", maxLength: 50, size: 14 }),
    address: h("input", { type: "search", name: "address", placeholder: "IP 地址", maxLength: 64, size: 14 }),
    success: select("success", [
      ["", "全部结果"],
      ["false", "仅失败"],
      ["true", "仅成功"],
    ]),
    day: h("input", { type: "date", name: "day", "aria-label": "日期" }),
  };
  const filterForm = h(
    "form.filters",
    filters.username,
    filters.address,
    filters.success,
    filters.day,
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
  );
  onFilter(filterForm, () =>
    go({
      username: filters.username.value.trim(),
      address: filters.address.value.trim(),
      success: filters.success.value,
      day: filters.day.value,
    }),
  );
  const list = pagedTable({
    path: "/api/v1/auth/attempts",
    columns: ["时间", "用户名", "IP 地址", "结果"],
    query: () => ({
      username: params.username,
      address: params.address,
      success: params.success,
      from: params.day ? localMidnight(params.day) : undefined,
      to: params.day ? localMidnight(nextDay(params.day)) : undefined,
    }),
    cells: (a) => {
      const [label, kind] = OUTCOMES[a.outcome] || [a.outcome, ""];
      return [
        h("td.nowrap", timeEl(a.at)),
        h("td", a.username || h("span.muted", "（空）")),
        h("td.nowrap", a.address),
        h("td", h(kind ? `span.badge.${kind}` : "span.badge", { title: a.outcome }, label)),
      ];
    },
    onPage: (offset) => go({ ...params, offset }),
    emptyText: "没有符合条件的登录记录",
    className: ".admin-table",
  });
  const load = () => list.load(params.offset);
  const el = h(
    "section.card.attempts",
    h("h2", { title: "GET /api/v1/auth/attempts" }, "登录记录"),
    h(
      "p.hint",
      "同一账号在同一地址连续失败、同一地址失败过多，或某账号从陌生地址失败过多时，登录会被暂时限制（429），等待时间随失败次数加倍。",
    ),
    filterForm,
    list.el,
  );

  return {
    el,
    show(next) {
      const listChanged = !loaded || changed(["username", "address", "success", "day", "offset"], next, params);
      loaded = true;
      params = next;
      for (const [key, input] of Object.entries(filters)) input.value = params[key] || "";
      if (listChanged) load();
    },
  };
}
