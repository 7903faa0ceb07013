// 管理 › 账号: staff accounts (admins only): list, create, edit, deactivate, set a password.

import { api } from "./api.js";
import { ROLE_LABELS, clear, errorLine, h, toast } from "./ui.js";
import {
  splitPanes,
  field,
  select,
  checkbox,
  onSubmit,
  closeButton,
  closeOnEscape,
  changed,
  statusBadge,
  providerOptions,
  onFilter,
} from "./admin-kit.js";
import { pagedTable } from "./paged-table.js";

// Mirrors of the server's rules (dispatch/users.py, providers/schemas.py, catalogue/schemas.py),
// so a form says what is wrong before sending; the server checks again.
const MIN_PASSWORD = 8;

const EXTENSION_PATTERN = "[0-9A-Za-z*#_\\-]{1,20}";

// Workers and organisation admins act for a provider of the matching kind; staff roles for none.
const PROVIDER_KIND = { worker: "worker", org_admin: "organisation" };

// Only these roles take calls and have an extension (auth/users.py CALL_TAKING_ROLES); the server
// clears an account's extension when its role changes.
const CALL_TAKING = new Set(["admin", "supervisor", "operator"]);

export function usersSection(app, go) {
  let params = {};
  let loaded = false;
  const panes = splitPanes("users");

  const filters = {
    q: h("input", { type: "search", name: "q", placeholder: "用户名或姓名", maxLength: 50, size: 14 }),
    role: select("role", [["", "全部角色"], ...Object.entries(ROLE_LABELS)]),
  };
  const filterForm = h(
    "form.filters",
    filters.q,
    filters.role,
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
    h("button.primary.push", { type: "button", onclick: () => go({ ...params, open: "new" }) }, "＋ 新建账号"),
  );
  const applyFilters = () => go({ q: filters.q.value.trim(), role: filters.role.value, open: params.open });
  onFilter(filterForm, applyFilters);
  const list = pagedTable({
    path: "/api/v1/users",
    columns: ["用户名", "姓名", "角色", "分机", "所属服务方", "状态"],
    query: () => ({ q: params.q, role: params.role }),
    cells,
    open: (u) => go({ ...params, open: u.id }),
    onPage: (offset) => go({ ...params, offset }),
    emptyText: "没有符合条件的账号",
    className: ".admin-table",
  });
  const load = () => list.load(params.offset);

  panes.list.append(h("h2", { title: "GET /api/v1/users" }, "账号"), filterForm, list.el);

  function cells(u) {
    const provider = u.provider_id ? h("span", `#${u.provider_id}`) : h("span.muted", "—");
    if (u.provider_id) app.providerName(u.provider_id).then((name) => (provider.textContent = name));
    return [
      h("td.nowrap", h("a", { href: "#", onclick: (e) => e.preventDefault() }, u.username)),
      h("td", u.display_name),
      h("td.nowrap", ROLE_LABELS[u.role] || u.role),
      h("td.nowrap", u.extension || h("span.muted", "—")),
      h("td", provider),
      h("td", statusBadge(u.active)),
    ];
  }

  const close = () => go({ ...params, open: "" });
  closeOnEscape(panes.el, () => Boolean(params.open), close);

  async function loadDetail() {
    const open = params.open;
    panes.setOpen(Boolean(open));
    if (!open) return clear(panes.detail);
    if (open === "new") return clear(panes.detail, closeButton(close), newUserForm());
    clear(panes.detail, h("p.muted", "加载中…"));
    try {
      const user = await api(`/api/v1/users/${open}`);
      if (String(user.id) !== params.open) return; // another account was opened meanwhile
      clear(panes.detail, closeButton(close), editUserForm(user));
    } catch (err) {
      clear(panes.detail, closeButton(close), errorLine(err));
    }
  }

  /** Two password inputs that must agree (a typo here locks the user out). */
  function passwordPair(label) {
    const attrs = {
      type: "password",
      required: true,
      minLength: MIN_PASSWORD,
      maxLength: 200,
      autocomplete: "new-password",
    };
    const password = h("input", { ...attrs, name: "password" });
    const again = h("input", { ...attrs, name: "password_again" });
    const check = () =>
      again.setCustomValidity(again.value && again.value !== password.value ? "两次输入的密码不一致" : "");
    return {
      password,
      check,
      fields: h("div.grid2", field(label, password, `至少 ${MIN_PASSWORD} 位`), field("再次输入", again)),
    };
  }

  /**
   * The extension field follows the role select: hidden for roles that take no calls, and
   * emptied when an account's role changes (the server clears it then; type it again to keep it).
   */
  function extensionFollowsRole(roleSelect, input, currentRole = null) {
    const label = input.closest("label");
    const sync = () => {
      const takesCalls = CALL_TAKING.has(roleSelect.value);
      if (label) label.hidden = !takesCalls;
      if (!takesCalls || (currentRole && roleSelect.value !== currentRole)) input.value = "";
    };
    roleSelect.addEventListener("change", sync);
    sync();
  }

  function extensionInput(value) {
    return h("input", {
      name: "extension",
      value: value || "",
      pattern: EXTENSION_PATTERN,
      maxLength: 20,
      size: 8,
      autocomplete: "off",
      title: "1–20 位数字或字母（也可含 * # _ -）",
    });
  }

  /**
   * The provider an account acts for, following the role select: workers pick a worker,
   * organisation admins an organisation, staff roles none (the field is hidden). ``current`` is
   * preselected while the role is ``currentRole`` (the edit form's account as it is).
   */
  function providerPicker(roleSelect, errorBox, { current = null, currentRole = null } = {}) {
    const input = h("select", { name: "provider_id" });
    const el = h("label", "所属服务方 *", input);
    let asked = 0; // the role changed while options were loading: only the last answer counts
    const kind = () => PROVIDER_KIND[roleSelect.value];
    async function fill() {
      const wanted = kind();
      el.hidden = !wanted;
      input.setCustomValidity("");
      if (!wanted) return;
      const ask = ++asked;
      clear(input, h("option", { value: "" }, "加载中…"));
      try {
        const options = await providerOptions(wanted);
        if (ask !== asked) return;
        clear(input, h("option", { value: "" }, wanted === "worker" ? "选择服务人员" : "选择机构"), options);
        if (roleSelect.value === currentRole && current) input.value = String(current);
      } catch (err) {
        clear(errorBox, errorLine(err));
      }
    }
    roleSelect.addEventListener("change", fill);
    fill();
    return {
      el,
      /** The chosen provider id for a worker or org admin role, else null. */
      value: () => (kind() && input.value ? Number(input.value) : null),
      check: () => input.setCustomValidity(kind() && !input.value ? "该角色需要选择所属服务方" : ""),
    };
  }

  function newUserForm() {
    const f = {
      username: h("input", { name: "username", required: true, maxLength: 50, autocomplete: "off" }),
      display_name: h("input", { name: "display_name", maxLength: 100, autocomplete: "off" }),
      role: select("role", Object.entries(ROLE_LABELS), "operator"),
      extension: extensionInput(""),
    };
    const pw = passwordPair("初始密码");
    const errorBox = h("div.form-error");
    const provider = providerPicker(f.role, errorBox);
    const form = h(
      "form.admin-form",
      { autocomplete: "off" },
      h("h2", { title: "POST /api/v1/users" }, "新建账号"),
      h(
        "div.grid2",
        field("用户名", f.username, "登录用，创建后不可修改"),
        field("姓名", f.display_name, "留空则同用户名"),
      ),
      h(
        "div.grid2",
        field("角色", f.role),
        field("分机号", f.extension, "坐席来电弹屏按分机路由，一个分机只属于一个账号"),
      ),
      provider.el,
      pw.fields,
      h(
        "div.row",
        h("button.primary", { type: "submit" }, "创建账号"),
        h("button.ghost", { type: "button", onclick: close }, "取消"),
      ),
      errorBox,
    );
    extensionFollowsRole(f.role, f.extension);

    onSubmit(form, errorBox, {
      check: () => {
        pw.check();
        provider.check();
      },
      save: async () => {
        const user = await api("/api/v1/users", {
          body: {
            username: f.username.value.trim(),
            display_name: f.display_name.value.trim(),
            role: f.role.value,
            password: pw.password.value,
            extension: f.extension.value.trim() || null,
            provider_id: provider.value(),
          },
        });
        toast(`账号 ${user.username} 已创建`, { kind: "ok" });
        go({ ...params, open: user.id });
        load();
      },
    });
    queueMicrotask(() => f.username.focus());
    return form;
  }

  function editUserForm(user) {
    const self = user.id === app.user.id;
    const f = {
      display_name: h("input", { name: "display_name", required: true, maxLength: 100, value: user.display_name }),
      extension: extensionInput(user.extension),
      role: select("role", Object.entries(ROLE_LABELS), user.role),
      active: checkbox("active", "启用（停用后无法登录）", user.active, {
        title: self ? "不能停用自己的账号" : null,
      }),
    };
    f.active.querySelector("input").disabled = self;
    // The server refuses an admin's change of their own role (they could lock themselves out).
    f.role.disabled = self;
    if (self) f.role.title = "不能修改自己的角色";
    const errorBox = h("div.form-error");
    const provider = providerPicker(f.role, errorBox, { current: user.provider_id, currentRole: user.role });
    const form = h(
      "form.admin-form",
      h("div.detail-head", h("h2", user.username), statusBadge(user.active)),
      h(
        "div.grid2",
        field("姓名", f.display_name),
        field("分机号", f.extension, "留空则清除分机；改变角色会清除分机，如需保留请重新填写"),
      ),
      h(
        "div.grid2",
        field("角色", f.role, self ? "不能修改自己的角色" : "改变角色或所属服务方后，该账号须重新登录"),
        provider.el,
      ),
      f.active,
      h("p.hint", "停用、改变角色或重设密码后，该账号已登录的会话立即失效。"),
      h("div.row", h("button.primary", { type: "submit" }, "保存")),
      errorBox,
    );
    extensionFollowsRole(f.role, f.extension, user.role);
    onSubmit(form, errorBox, {
      check: provider.check,
      save: async () => {
        const body = {};
        const name = f.display_name.value.trim();
        const extension = f.extension.value.trim() || null;
        const active = f.active.querySelector("input").checked;
        if (name !== user.display_name) body.display_name = name;
        if (f.role.value !== user.role) body.role = f.role.value;
        // A role change clears the extension on the server: one typed in the form is set again.
        if (extension !== (user.extension || null) || (body.role && extension)) body.extension = extension;
        if (active !== user.active) body.active = active;
        // A staff role drops the provider on the server; a worker or org admin sends the chosen one.
        const providerId = provider.value();
        if (providerId !== null && providerId !== user.provider_id) body.provider_id = providerId;
        if (!Object.keys(body).length) return toast("没有需要保存的修改");
        const saved = await api(`/api/v1/users/${user.id}`, { method: "PATCH", body });
        toast(`账号 ${saved.username} 已保存`, { kind: "ok" });
        loadDetail();
        load();
      },
    });

    const pw = passwordPair("新密码");
    const pwError = h("div.form-error");
    const pwForm = h(
      "form.admin-form",
      { autocomplete: "off" },
      h("h3", { title: "PATCH /api/v1/users/{id} {password}" }, "重设密码"),
      pw.fields,
      h("div.row", h("button", { type: "submit" }, "设置新密码")),
      pwError,
    );
    onSubmit(pwForm, pwError, {
      check: pw.check,
      save: async () => {
        await api(`/api/v1/users/${user.id}`, { method: "PATCH", body: { password: pw.password.value } });
        pwForm.reset();
        // A new password ends the account's sessions, this one too when it is your own.
        if (self) return app.signOut("密码已更新，请用新密码重新登录");
        toast(`${user.username} 的密码已更新，请告知本人（其已登录的会话已失效）`, { kind: "ok" });
      },
    });
    return h("div", form, pwForm);
  }

  return {
    el: panes.el,
    show(next) {
      const listChanged = !loaded || changed(["q", "role", "offset"], next, params);
      const detailChanged = !loaded || (next.open || "") !== (params.open || "");
      loaded = true;
      params = next;
      filters.q.value = params.q || "";
      filters.role.value = params.role || "";
      list.select(params.open);
      if (listChanged || !detailChanged) load();
      if (detailChanged) loadDetail();
    },
  };
}
