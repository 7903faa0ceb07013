// Pieces the 管理 sections share: panes, form fields, the Chinese for common refusals, the
// provider pickers. Their lists are paged tables (paged-table.js) like every list of the console.

import { api } from "./api.js";
import { clear, errorLine, errorText, h, toast } from "./ui.js";

/** A list on the left and, once a record is open, its form beside it (like 工单). */
export function splitPanes(name) {
  const list = h("section.card.list-pane");
  const detail = h("section.card.detail-pane");
  const el = h(`div.admin-split.${name}`, list, detail);
  return { el, list, detail, setOpen: (open) => el.classList.toggle("has-detail", open) };
}

/** A labelled field; required inputs get a "*", a hint goes under the input. */
export function field(label, input, hint) {
  return h("label", input.required ? `${label} *` : label, input, hint ? h("span.hint", hint) : null);
}

export function select(name, options, value = "") {
  const el = h(
    "select",
    { name },
    options.map(([v, t]) => h("option", { value: v }, t)),
  );
  el.value = value;
  return el;
}

export function checkbox(name, label, checked, attrs = {}) {
  return h("label.check", attrs, h("input", { type: "checkbox", name, checked }), label);
}

/**
 * Wire a form's submit: check() marks what the HTML attributes cannot express (with
 * setCustomValidity), the browser points at the first bad field, then save() runs with the
 * submit button disabled, so a double click saves once. A refusal is shown in errorBox.
 */
export function onSubmit(form, errorBox, { check, save }) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    if (submit.disabled) return;
    clear(errorBox);
    check?.();
    if (!form.reportValidity()) return;
    submit.disabled = true;
    try {
      await save();
    } catch (err) {
      clear(errorBox, errorLine(inChinese(err)));
    } finally {
      submit.disabled = false;
    }
  });
  // A field marked bad by check() is cleared as soon as it is corrected.
  if (check) form.addEventListener("input", check);
}

// The refusals an administrator meets daily, in Chinese, for a server that sends no Chinese
// message of its own; its message, when there is one, is shown as it is.
const MESSAGES = [
  [/^extension (.+) already belongs to another user$/, (m) => `分机 ${m[1]} 已被其他账号使用`],
  [/^a user named '(.+)' already exists$/, (m) => `用户名 ${m[1]} 已存在`],
  [/^you cannot deactivate your own account$/, () => "不能停用自己的账号"],
  [/^you cannot change your own role$/, () => "不能修改自己的角色"],
  [/^a \w+ account needs --provider/, () => "该角色需要选择所属服务方"],
  [/^provider (\d+) is a worker, not an organisation$/, (m) => `服务方 #${m[1]} 是服务人员，机构管理员须选择机构`],
  [/^provider (\d+) is an organisation, not a worker$/, (m) => `服务方 #${m[1]} 是机构，服务人员账号须选择服务人员`],
  [/^no provider with id (\d+)$/, (m) => `服务方 #${m[1]} 不存在`],
  [/^phone: /, () => "联系电话格式不正确（手机 11 位，座机带区号）"],
];

function inChinese(err) {
  if (err.zh) return err;
  const text = err.detail || "";
  for (const [pattern, message] of MESSAGES) {
    const m = text.match(pattern);
    if (m) return { code: err.code, status: err.status, detail: message(m) };
  }
  return err;
}

/** A filter form applies itself when a field changes or Enter is pressed (never a page reload). */
export function onFilter(form, apply) {
  form.addEventListener("change", apply);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
}

export function closeButton(onclick) {
  return h("button.ghost.small.close", { type: "button", title: "关闭 (Esc)", onclick }, "← 返回列表");
}

/** Esc closes the open record of a visible section, unless the user is typing in a form. */
export function closeOnEscape(el, isOpen, close) {
  document.addEventListener("keydown", (e) => {
    if (
      e.key === "Escape" &&
      !el.hidden &&
      el.closest(".view")?.hidden === false &&
      isOpen() &&
      !e.target.closest("form")
    )
      close();
  });
}

/** Filter params changed (so the list must reload) between two routes? */
export const changed = (keys, a, b) => keys.some((k) => (a[k] || "") !== (b[k] || ""));

export function statusBadge(active, [on, off] = ["启用", "停用"]) {
  return h(active ? "span.badge.on" : "span.badge.off", active ? on : off);
}

export function providerLabel(app, id) {
  const el = h("span", `#${id}`);
  app.providerName(id).then((name) => (el.textContent = name === `#${id}` ? name : `${name} #${id}`));
  return el;
}

/** <option>s of the providers of one kind; workers grouped under their organisation. */
export async function providerOptions(kind) {
  const query = { kind, limit: 500 };
  const [{ items }, orgs] = await Promise.all([
    api("/api/v1/providers", { query }),
    kind === "worker" ? api("/api/v1/providers", { query: { kind: "organisation", limit: 500 } }) : null,
  ]);
  const label = (p) => `${p.name} #${p.id}${p.status === "suspended" ? "（已暂停）" : ""}`;
  if (kind !== "worker") return items.map((p) => h("option", { value: p.id }, label(p)));
  const groups = new Map([[null, []], ...orgs.items.map((o) => [o.id, []])]);
  for (const p of items) (groups.get(p.organisation_id) || groups.get(null)).push(p);
  const names = new Map(orgs.items.map((o) => [o.id, o.name]));
  return [...groups]
    .filter(([, workers]) => workers.length)
    .map(([org, workers]) =>
      h(
        "optgroup",
        { label: org === null ? "独立服务人员" : names.get(org) },
        workers.map((p) => h("option", { value: p.id }, label(p))),
      ),
    );
}

/**
 * A button whose request runs once at a time (disabled meanwhile; a click does not reach the row
 * under it); a refusal is a toast. ``tag``: the element, e.g. "button.small".
 */
export function actionButton(label, title, run, tag = "button") {
  const button = h(tag, { type: "button", title }, label);
  button.addEventListener("click", async (e) => {
    e.stopPropagation();
    if (button.disabled) return;
    button.disabled = true;
    try {
      await run();
    } catch (err) {
      toast(errorText(err), { kind: "error" });
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
