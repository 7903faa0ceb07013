// 管理 › 服务方: organisations and workers: list, create, edit what they serve, where and when,
// suspend and reactivate. Organisation admins see their own organisation's workers only.

import { api } from "./api.js";
import { clear, errorLine, h, phoneLink, toast } from "./ui.js";
import {
  splitPanes,
  field,
  select,
  onSubmit,
  closeButton,
  closeOnEscape,
  changed,
  statusBadge,
  providerLabel,
  providerOptions,
  onFilter,
} from "./admin-kit.js";
import { pagedTable } from "./paged-table.js";

const KIND_LABELS = { organisation: "机构", worker: "服务人员" };

const PROVIDER_STATUS_LABELS = { active: "正常接单", suspended: "已暂停" };

const COORD_SYSTEMS = [
  ["wgs84", "WGS-84（GPS）"],
  ["gcj02", "GCJ-02（高德、腾讯地图）"],
  ["bd09", "BD-09（百度地图）"],
];

const DAYS = [
  ["mon", "周一"],
  ["tue", "周二"],
  ["wed", "周三"],
  ["thu", "周四"],
  ["fri", "周五"],
  ["sat", "周六"],
  ["sun", "周日"],
];

export function providersSection(app, go) {
  const admin = app.user.role === "admin";
  const ownOrg = app.user.role === "org_admin" ? app.user.provider_id : null;
  let params = {};
  let loaded = false;
  const panes = splitPanes("providers");

  // Communities and streets by name (a district has a few hundred areas), loaded once for the
  // community picker and the names in the list; a failed load is tried again next time.
  let areas = null;
  function loadAreas() {
    if (!areas) {
      const kind = (k) => api("/api/v1/areas", { query: { kind: k } }).then((r) => r.items);
      areas = Promise.all([kind("community"), kind("street")]).then(([communities, streets]) => ({
        communities,
        byId: new Map([...communities, ...streets].map((a) => [a.id, a])),
      }));
      areas.catch(() => (areas = null));
    }
    return areas;
  }

  const filters = {
    q: h("input", { type: "search", name: "q", placeholder: "名称", maxLength: 50, size: 14 }),
    kind: select("kind", [["", "全部类型"], ...Object.entries(KIND_LABELS)]),
    status: select("status", [["", "全部状态"], ...Object.entries(PROVIDER_STATUS_LABELS)]),
  };
  const orgChip = h("span");
  const filterForm = h(
    "form.filters",
    filters.q,
    filters.kind,
    filters.status,
    orgChip,
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
    h(
      "button.primary.push",
      { type: "button", onclick: () => go({ ...params, open: "new" }) },
      admin ? "＋ 新建服务方" : "＋ 新建服务人员",
    ),
  );
  const applyFilters = () =>
    go({
      q: filters.q.value.trim(),
      kind: filters.kind.value,
      status: filters.status.value,
      org: params.org,
      open: params.open,
    });
  onFilter(filterForm, applyFilters);
  const list = pagedTable({
    path: "/api/v1/providers",
    columns: ["名称", "类型", "所属机构", "服务范围", "在办/容量", "状态"],
    query: () => ({ q: params.q, kind: params.kind, status: params.status, organisation_id: params.org }),
    cells,
    open: (p) => go({ ...params, open: p.id }),
    onPage: (offset) => go({ ...params, offset }),
    emptyText: "没有符合条件的服务方",
    className: ".admin-table.providers-table",
  });
  const load = () => list.load(params.offset);

  panes.list.append(
    h("h2", { title: "GET /api/v1/providers" }, admin ? "服务方" : "本机构及服务人员"),
    filterForm,
    list.el,
  );

  function cells(p) {
    const full = p.open_count >= p.capacity;
    return [
      h("td", h("a", { href: "#", onclick: (e) => e.preventDefault() }, p.name), h("span.muted.small", ` #${p.id}`)),
      h("td.nowrap", KIND_LABELS[p.kind] || p.kind),
      h("td", p.organisation_id ? providerLabel(app, p.organisation_id) : h("span.muted", "—")),
      servesCell(p),
      h(full ? "td.num.late" : "td.num", { title: full ? "满负荷" : null }, `${p.open_count}/${p.capacity}`),
      h("td", statusBadge(p.status === "active", ["正常", "已暂停"])),
    ];
  }

  /** What a provider serves and, when it is restricted to communities, which ones (by name). */
  function servesCell(p) {
    const serves = servesText(app, p);
    const cell = h("td.desc", { title: serves }, serves);
    if (!p.communities.length) return cell;
    const where = h("span", ` · 限定 ${p.communities.length} 个社区`);
    cell.append(where);
    loadAreas()
      .then(({ byId }) => {
        const names = p.communities.map((id) => byId.get(id)?.name || `#${id}`).join("、");
        where.textContent = ` · 限定社区：${names}`;
        cell.title = `${serves}\n限定社区：${names}`;
      })
      .catch(() => {}); // the count stays; the picker shows the error
    return cell;
  }

  function renderOrgChip() {
    if (!params.org) return clear(orgChip);
    clear(
      orgChip,
      h(
        "span.chip",
        "所属：",
        providerLabel(app, Number(params.org)),
        h("button.x", { type: "button", title: "清除", onclick: () => go({ ...params, org: "", offset: "" }) }, "×"),
      ),
    );
  }

  const close = () => go({ ...params, open: "" });
  closeOnEscape(panes.el, () => Boolean(params.open), close);

  async function loadDetail() {
    const open = params.open;
    panes.setOpen(Boolean(open));
    if (!open) return clear(panes.detail);
    if (open === "new") return clear(panes.detail, closeButton(close), providerForm(null));
    clear(panes.detail, h("p.muted", "加载中…"));
    try {
      const p = await api(`/api/v1/providers/${open}`);
      if (String(p.id) !== params.open) return;
      clear(panes.detail, closeButton(close), statusBar(p), providerForm(p));
    } catch (err) {
      clear(panes.detail, closeButton(close), errorLine(err));
    }
  }

  const reload = () => {
    loadDetail();
    load();
  };

  /** Suspend (with a confirm: no new orders are offered) or reactivate. */
  function statusBar(p) {
    const head = h(
      "div.detail-head",
      h("h2", p.name),
      h("span.badge", KIND_LABELS[p.kind]),
      statusBadge(p.status === "active", ["正常接单", "已暂停"]),
      p.star_level
        ? h("span.muted.small", { title: `${p.rating_count} 次评价` }, `★ ${p.star_level.toFixed(1)}`)
        : null,
    );
    // An organisation cannot suspend itself; its admin asks an admin or a supervisor.
    if (p.id === ownOrg) return h("div.status-bar", head, h("p.hint", "本机构的暂停与恢复由管理员或督办操作。"));
    const slot = h("div.action-slot");
    const errorBox = h("div.form-error");
    const setStatus = async (status, button) => {
      button.disabled = true;
      clear(errorBox);
      try {
        await api(`/api/v1/providers/${p.id}`, { method: "PATCH", body: { status } });
        app.forgetProvider(p.id);
        toast(`${p.name} ${status === "active" ? "已恢复接单" : "已暂停接单"}`, { kind: "ok" });
        reload();
      } catch (err) {
        clear(errorBox, errorLine(err));
        button.disabled = false;
      }
    };
    let button;
    if (p.status === "active") {
      button = h("button.danger", { type: "button", title: "status: suspended" }, "暂停接单");
      button.addEventListener("click", () => {
        if (slot.firstChild) return clear(slot);
        const ok = h("button.danger", { type: "button" }, "确认暂停");
        ok.addEventListener("click", () => setStatus("suspended", ok));
        const busy = p.open_count ? `其手上 ${p.open_count} 张在办工单不受影响，需要时由督办改派。` : "";
        clear(
          slot,
          h(
            "div.confirm",
            h("span", `暂停后不再向「${p.name}」派发新工单。${busy}`),
            ok,
            h("button.ghost", { type: "button", onclick: () => clear(slot) }, "取消"),
          ),
        );
        ok.focus();
      });
    } else {
      button = h("button.primary", { type: "button", title: "status: active" }, "恢复接单");
      button.addEventListener("click", () => setStatus("active", button));
    }
    const workers =
      p.kind === "organisation"
        ? h(
            "button.ghost",
            { type: "button", onclick: () => go({ kind: "worker", org: p.id, open: "" }) },
            "查看本机构服务人员",
          )
        : null;
    return h("div.status-bar", head, h("div.action-buttons", button, workers), slot, errorBox);
  }

  /** The form of a new provider (p null) or of an existing one (only changed fields are sent). */
  function providerForm(p) {
    const isNew = !p;
    const f = {
      kind: select("kind", Object.entries(KIND_LABELS), "worker"), // org admins register workers only
      organisation: h("select", { name: "organisation_id" }),
      name: h("input", { name: "name", required: true, maxLength: 100, value: p?.name || "", autocomplete: "off" }),
      phone: h("input", {
        name: "phone",
        maxLength: 32,
        inputmode: "tel",
        value: p ? p.phone.replace(/^\+86/, "") : "",
        autocomplete: "off",
      }),
      address: h("input", { name: "address", maxLength: 300, value: p?.address || "", autocomplete: "off" }),
      lat: h("input", {
        name: "lat",
        type: "number",
        step: "any",
        min: -90,
        max: 90,
        required: true,
        inputmode: "decimal",
        value: p ? String(p.lat) : "",
      }),
      lon: h("input", {
        name: "lon",
        type: "number",
        step: "any",
        min: -180,
        max: 180,
        required: true,
        inputmode: "decimal",
        value: p ? String(p.lon) : "",
      }),
      coords: select("coord_system", COORD_SYSTEMS, "wgs84"),
      radius: h("input", {
        name: "radius_km",
        type: "number",
        step: "any",
        min: 0.1,
        max: 100,
        required: true,
        inputmode: "decimal",
        value: String(p?.radius_km ?? 5),
      }),
      capacity: h("input", {
        name: "capacity",
        type: "number",
        step: 1,
        min: 0,
        max: 1000,
        required: true,
        inputmode: "numeric",
        value: String(p?.capacity ?? 5),
      }),
    };
    const communities = communityPicker(loadAreas, p?.communities || []);
    const services = servicesPicker(app, p);
    const hours = hoursEditor(p?.working_hours || {});
    const errorBox = h("div.form-error");

    // Who the new provider belongs to: org admins register their own workers only.
    const orgField = field("所属机构", f.organisation, "独立服务人员可不选");
    const kindRow = isNew
      ? admin
        ? h("div.grid2", field("类型", f.kind), orgField)
        : h(
            "div.grid2",
            h("label", "类型", h("span.static", KIND_LABELS.worker)),
            h("label", "所属机构", h("span.static", providerLabel(app, ownOrg))),
          )
      : h(
          "dl.facts",
          h("dt", "编号"),
          h("dd", `#${p.id}`),
          p.organisation_id ? [h("dt", "所属机构"), h("dd", providerLabel(app, p.organisation_id))] : null,
          h("dt", "联系电话"),
          h("dd", phoneLink(p.phone)),
          h("dt", "在办工单"),
          h("dd", `${p.open_count}（容量 ${p.capacity}）`),
        );
    if (isNew && admin) {
      const fillOrgs = async () => {
        orgField.hidden = f.kind.value !== "worker";
        if (f.organisation.options.length) return;
        clear(f.organisation, h("option", { value: "" }, "加载中…"));
        try {
          clear(
            f.organisation,
            h("option", { value: "" }, "（独立服务人员，无所属机构）"),
            await providerOptions("organisation"),
          );
        } catch (err) {
          clear(errorBox, errorLine(err));
        }
      };
      f.kind.addEventListener("change", fillOrgs);
      fillOrgs();
    }

    const form = h(
      "form.admin-form",
      { autocomplete: "off" },
      isNew ? h("h2", { title: "POST /api/v1/providers" }, admin ? "新建服务方" : "新建服务人员") : null,
      kindRow,
      h(
        "div.grid2",
        field("名称", f.name, isNew ? "机构全称，或服务人员姓名" : null),
        field("联系电话", f.phone, "接收派单短信"),
      ),
      field("地址", f.address),
      h(
        "fieldset.group",
        h("legend", "服务范围"),
        h(
          "div.grid3.coords",
          field("纬度", f.lat),
          field("经度", f.lon),
          field("坐标系", f.coords, "地图上取点时选对应坐标系，保存为 WGS-84"),
        ),
        h("div.grid2", field("服务半径（公里）", f.radius, "未限定社区时按此半径派单")),
        communities.el,
      ),
      h("div.grid2", field("同时在办上限", f.capacity, "达到上限后暂不派单；0 表示暂不接新单")),
      services.el,
      hours.el,
      h(
        "div.row",
        h("button.primary", { type: "submit" }, isNew ? "创建" : "保存"),
        isNew ? h("button.ghost", { type: "button", onclick: close }, "取消") : null,
      ),
      errorBox,
    );

    const check = () => {
      services.check();
      hours.check();
    };
    onSubmit(form, errorBox, {
      check,
      save: async () => {
        const values = {
          name: f.name.value.trim(),
          phone: f.phone.value.trim(),
          address: f.address.value.trim(),
          lat: Number(f.lat.value),
          lon: Number(f.lon.value),
          radius_km: Number(f.radius.value),
          communities: communities.value(),
          capacity: Number(f.capacity.value),
          ...services.value(),
          working_hours: hours.value(),
        };
        if (isNew) {
          const body = { kind: f.kind.value, ...values, coord_system: f.coords.value };
          if (admin && body.kind === "worker" && f.organisation.value)
            body.organisation_id = Number(f.organisation.value);
          const created = await api("/api/v1/providers", { body });
          toast(`${created.name} 已创建`, { kind: "ok" });
          go({ ...params, open: created.id });
          load();
          return;
        }
        const body = diffProvider(p, values);
        if (body.lat !== undefined) body.coord_system = f.coords.value;
        if (!Object.keys(body).length) return toast("没有需要保存的修改");
        await api(`/api/v1/providers/${p.id}`, { method: "PATCH", body });
        app.forgetProvider(p.id);
        toast(`${values.name} 已保存`, { kind: "ok" });
        reload();
      },
    });
    if (isNew) queueMicrotask(() => f.name.focus());
    return form;
  }

  return {
    el: panes.el,
    show(next) {
      const listChanged = !loaded || changed(["q", "kind", "status", "org", "offset"], next, params);
      const detailChanged = !loaded || (next.open || "") !== (params.open || "");
      loaded = true;
      params = next;
      filters.q.value = params.q || "";
      filters.kind.value = params.kind || "";
      filters.status.value = params.status || "";
      renderOrgChip();
      list.select(params.open);
      if (listChanged || !detailChanged) load();
      if (detailChanged) loadDetail();
    },
  };
}

/** "家政维修（整类）、助餐服务": what a provider serves, in words. */
function servesText(app, p) {
  const cats = p.categories.map((c) => `${app.catalogue.categories.get(c)?.name_zh || c}（整类）`);
  return [...cats, ...p.items.map((i) => app.itemName(i))].join("、") || "—";
}

/** The changed fields of a provider form (a PATCH sends nothing else). */
function diffProvider(p, v) {
  const body = {};
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  if (v.name !== p.name) body.name = v.name;
  if (v.phone !== p.phone.replace(/^\+86/, "")) body.phone = v.phone;
  if (v.address !== p.address) body.address = v.address;
  if (v.lat !== p.lat || v.lon !== p.lon) Object.assign(body, { lat: v.lat, lon: v.lon });
  if (v.radius_km !== p.radius_km) body.radius_km = v.radius_km;
  if (!same(v.communities, p.communities)) body.communities = v.communities;
  if (v.capacity !== p.capacity) body.capacity = v.capacity;
  if (!same([...v.items].sort(), p.items) || !same([...v.categories].sort(), p.categories))
    Object.assign(body, { items: v.items, categories: v.categories });
  if (!same(v.working_hours, normaliseHours(p.working_hours))) body.working_hours = v.working_hours;
  return body;
}

/**
 * The communities a provider is restricted to, ticked by name and grouped by street, with a filter
 * box for a long list. Ids the area list lacks are kept ticked as "#id"; if the areas cannot be
 * loaded the provider's communities are sent back unchanged.
 */
function communityPicker(loadAreas, ids) {
  const chosen = new Set(ids);
  let boxes = null; // the checkboxes, once the areas are in
  const list = h("div.area-list", h("p.muted.small", "社区加载中…"));
  const summary = h("p.hint");
  const filter = h("input", {
    type: "search",
    placeholder: "按名称筛选",
    "aria-label": "按名称筛选社区",
    title: "filter communities by name or code",
    size: 12,
    autocomplete: "off",
  });
  // Enter in the filter box must not submit the provider form.
  filter.addEventListener("keydown", (e) => e.key === "Enter" && e.preventDefault());
  const clearAll = h(
    "button.ghost.small",
    {
      type: "button",
      title: "communities: [] (dispatch by radius)",
      onclick: () => {
        for (const b of boxes || []) b.checked = false;
        refresh();
      },
    },
    "全部取消",
  );
  const picked = () => (boxes ? boxes.filter((b) => b.checked) : []);
  function refresh() {
    const names = picked().map((b) => b.dataset.name);
    summary.textContent = names.length
      ? `已选 ${names.length} 个：${names.join("、")}。只接这些社区的工单，服务半径不再生效。`
      : "未限定社区：按服务半径派单。";
    clearAll.hidden = !names.length;
  }
  function applyFilter() {
    const q = filter.value.trim().toLowerCase();
    for (const group of list.querySelectorAll(".area-group")) {
      let shown = 0;
      for (const label of group.querySelectorAll("label.check")) {
        label.hidden = Boolean(q) && !label.dataset.search.includes(q);
        if (!label.hidden) shown++;
      }
      group.hidden = !shown;
    }
  }
  filter.addEventListener("input", applyFilter);
  list.addEventListener("change", refresh);

  const box = (id, name, search) => {
    const input = h("input", { type: "checkbox", name: "community", value: String(id), checked: chosen.has(id) });
    input.dataset.name = name;
    return h("label.check", { dataset: { search: search.toLowerCase() } }, input, name);
  };
  loadAreas().then(
    ({ communities, byId }) => {
      const groups = new Map();
      for (const c of communities) {
        if (!groups.has(c.parent_id)) groups.set(c.parent_id, []);
        groups.get(c.parent_id).push(box(c.id, c.name, `${c.name} ${c.code}`));
      }
      const known = new Set(communities.map((c) => c.id));
      const missing = ids.filter((id) => !known.has(id)).map((id) => box(id, `#${id}`, String(id)));
      if (missing.length) groups.set("missing", missing);
      clear(
        list,
        [...groups].map(([parent, labels]) =>
          h(
            "div.area-group",
            h("div.muted.small", parent === "missing" ? "区划中已没有的编号" : byId.get(parent)?.name || "未归属街道"),
            h("div.area-items", labels),
          ),
        ),
        communities.length ? null : h("p.muted.small", "尚未导入社区区划"),
      );
      boxes = [...list.querySelectorAll("input[name=community]")];
      filter.hidden = communities.length <= 10; // a short list needs no filter
      refresh();
    },
    (err) => clear(list, errorLine(err), h("p.hint", "社区列表加载失败，保存时保留原有限定社区。")),
  );
  refresh();

  return {
    el: h(
      "div.area-picker",
      h("div.row", h("span.label", { title: "communities" }, "限定社区"), filter, clearAll),
      list,
      summary,
    ),
    value: () => (boxes ? picked().map((b) => Number(b.value)) : [...chosen]).sort((a, b) => a - b),
  };
}

/**
 * Categories (the whole category) and single items a provider serves, as checkboxes by
 * category. Codes the console's catalogue lacks (items since deactivated) are kept as they are.
 */
function servicesPicker(app, p) {
  const items = new Set(p?.items || []);
  const categories = new Set(p?.categories || []);
  const boxes = [];
  const groups = [...app.catalogue.categories.values()].map((cat) => {
    const whole = h("input", {
      type: "checkbox",
      name: "category",
      value: cat.code,
      checked: categories.has(cat.code),
    });
    const itemBoxes = cat.item_codes.map((code) =>
      h("input", { type: "checkbox", name: "item", value: code, checked: items.has(code) }),
    );
    boxes.push(whole, ...itemBoxes);
    const count = h("span.muted.small");
    const inner = h(
      "fieldset.svc-items",
      itemBoxes.map((box) => h("label.check", box, app.itemName(box.value))),
    );
    const sync = () => {
      // A whole category covers its items: they are shown greyed, not sent.
      inner.disabled = whole.checked;
      const n = itemBoxes.filter((b) => b.checked).length;
      count.textContent = whole.checked ? "整类服务" : n ? `已选 ${n} 项` : "";
    };
    whole.addEventListener("change", sync);
    inner.addEventListener("change", sync);
    sync();
    const open = !whole.checked && itemBoxes.some((b) => b.checked);
    return h("details.svc-cat", { open }, h("summary", h("label.check", whole, cat.name_zh), count), inner);
  });
  const known = new Set(boxes.map((b) => b.value));
  const extra = [...items, ...categories].filter((code) => !known.has(code));
  const extraBoxes = extra.map((code) =>
    h("input", { type: "checkbox", name: items.has(code) ? "item" : "category", value: code, checked: true }),
  );
  boxes.push(...extraBoxes);
  const el = h(
    "fieldset.group.services",
    h("legend", "服务类别与事项 *"),
    h("p.hint", "勾选类别表示该类全部事项都接；也可展开只勾选个别事项。"),
    h("div.svc-list", groups),
    extraBoxes.length
      ? h(
          "div.row",
          h("span.muted.small", "目录中已停用："),
          extraBoxes.map((b) => h("label.check", b, b.value)),
        )
      : null,
  );
  const chosen = (name) =>
    boxes.filter((b) => b.name === name && b.checked && !b.closest("fieldset:disabled")).map((b) => b.value);
  const first = boxes[0] || h("input");
  return {
    el,
    value: () => ({ items: chosen("item"), categories: chosen("category") }),
    check: () => {
      const none = !chosen("item").length && !chosen("category").length;
      first.setCustomValidity(none ? "请至少选择一个服务类别或事项" : "");
    },
  };
}

/** Weekly hours: one input a day, "08:00-12:00, 14:00-18:00"; every day empty = around the clock. */
function hoursEditor(hours) {
  const inputs = DAYS.map(([key]) =>
    h("input", {
      name: `hours-${key}`,
      value: (hours[key] || []).map(([a, b]) => `${a}-${b}`).join(", "),
      placeholder: "休息",
      autocomplete: "off",
      size: 16,
    }),
  );
  const el = h(
    "fieldset.group",
    h("legend", "每周服务时间"),
    h(
      "div.hours",
      DAYS.map(([, label], i) => h("label", label, inputs[i])),
    ),
    h("p.hint", "格式 08:00-18:00，多段用逗号分隔；某天留空为休息。七天全部留空表示全天候（如热线）。"),
  );
  const parse = (text) => {
    const spans = [];
    const spaced = text.replace(/\s*[-–~～]\s*/g, "-"); // "08:00 - 18:00" is fine too
    for (const part of spaced.split(/[,，;；\s]+/).filter(Boolean)) {
      const m = part.match(/^([01]\d|2[0-3]):([0-5]\d)[-–~～]((?:[01]\d|2[0-3]):[0-5]\d|24:00)$/);
      if (!m) return `“${part}” 不是 HH:MM-HH:MM`;
      const start = `${m[1]}:${m[2]}`;
      if (start >= m[3]) return `${part}：结束时间应晚于开始时间`;
      spans.push([start, m[3]]);
    }
    return spans;
  };
  return {
    el,
    check: () => {
      for (const input of inputs) {
        const out = parse(input.value);
        input.setCustomValidity(typeof out === "string" ? out : "");
      }
    },
    value: () => {
      const out = {};
      DAYS.forEach(([key], i) => {
        const spans = parse(inputs[i].value);
        if (Array.isArray(spans) && spans.length) out[key] = spans;
      });
      return out;
    },
  };
}

/** The API's hours without empty days, for comparing with the form. */
function normaliseHours(hours) {
  const out = {};
  for (const [key] of DAYS) if (hours?.[key]?.length) out[key] = hours[key].map(([a, b]) => [a, b]);
  return out;
}
