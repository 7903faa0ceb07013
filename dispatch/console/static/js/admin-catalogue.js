// 管理 › 服务目录: categories and items; an item's synonyms (what category suggestion matches)
// and whether it is offered.

import { api } from "./api.js";
import { clear, debounce, empty, errorLine, h, toast } from "./ui.js";
import {
  splitPanes,
  field,
  checkbox,
  onSubmit,
  closeButton,
  closeOnEscape,
  changed,
  statusBadge,
  onFilter,
} from "./admin-kit.js";
import { rowLink } from "./paged-table.js";

const MAX_KEYWORD = 40;

const MAX_KEYWORDS = 200;

const SLA_LABELS = { urgent: "紧急", priority: "优先", normal: "普通", consult: "咨询" };

export function catalogueSection(app, go) {
  let params = {};
  let data = { categories: [], items: new Map() };
  let loaded = false;
  const panes = splitPanes("catalogue");

  const filters = {
    q: h("input", { type: "search", name: "q", placeholder: "名称、编码或同义词", maxLength: 40, size: 16 }),
    category: h("select", { name: "category" }),
    inactive: h("input", { type: "checkbox", name: "inactive" }),
  };
  const filterForm = h(
    "form.filters",
    filters.q,
    filters.category,
    h("label.check", { title: "include_inactive" }, filters.inactive, "含已停用"),
    h("button.ghost", { type: "button", onclick: () => load() }, "刷新"),
  );
  const applyFilters = () =>
    go({
      q: filters.q.value.trim(),
      category: filters.category.value,
      inactive: filters.inactive.checked ? "true" : "",
      open: params.open,
    });
  onFilter(filterForm, applyFilters);
  filters.q.addEventListener("input", () => render()); // filtering is local: no round trip per key
  const tbody = h("tbody");
  const listError = h("div");
  panes.list.append(
    h("h2", { title: "GET /api/v1/catalogue" }, "服务目录"),
    tryBox(),
    filterForm,
    listError,
    h(
      "div.table-wrap",
      h(
        "table.admin-table.catalogue-table",
        h(
          "thead",
          h(
            "tr",
            ["服务事项", "时限类别", "上门", "同义词", "状态"].map((t) => h("th", t)),
          ),
        ),
        tbody,
      ),
    ),
  );

  /** The whole catalogue, inactive entries included (what an admin edits); each says if active. */
  async function load() {
    clear(listError);
    try {
      const all = await api("/api/v1/catalogue", { query: { include_inactive: true } });
      data = { categories: all.categories, items: new Map(all.items.map((i) => [i.code, i])) };
      // The rest of the console (intake, names in lists) sees the edits without a reload: the
      // catalogue as GET /api/v1/catalogue gives it, active items of active categories only.
      const offered = all.categories
        .filter((c) => c.active)
        .map((c) => ({ ...c, item_codes: c.item_codes.filter((code) => data.items.get(code)?.active) }));
      app.catalogue.categories = new Map(offered.map((c) => [c.code, c]));
      app.catalogue.items = new Map(offered.flatMap((c) => c.item_codes.map((code) => [code, data.items.get(code)])));
      const current = params.category || "";
      clear(
        filters.category,
        h("option", { value: "" }, "全部类别"),
        all.categories.map((c) => h("option", { value: c.code }, c.name_zh)),
      );
      filters.category.value = current;
      render();
      loadDetail();
    } catch (err) {
      clear(listError, errorLine(err));
    }
  }

  function render() {
    const q = filters.q.value.trim().toLowerCase();
    const withInactive = params.inactive === "true";
    const matches = (i) => !q || [i.code, i.name_zh, i.name_en, ...i.keywords].some((t) => t.toLowerCase().includes(q));
    const out = [];
    for (const cat of data.categories) {
      if (params.category && cat.code !== params.category) continue;
      const catInactive = !cat.active;
      if (catInactive && !withInactive) continue;
      const items = cat.item_codes
        .map((c) => data.items.get(c))
        .filter((i) => i && (i.active || withInactive) && matches(i));
      if (q && !items.length) continue;
      out.push(
        h(
          "tr.cat-row",
          h(
            "th",
            { colSpan: 5 },
            h("span", cat.name_zh),
            h("span.code", { title: "类别编码" }, cat.code),
            catInactive ? h("span.badge.off", "已停用") : null,
            h(
              "button.ghost.small",
              { type: "button", onclick: () => go({ ...params, open: `category:${cat.code}` }) },
              "编辑类别",
            ),
          ),
        ),
        items.map(row),
      );
    }
    clear(tbody, out.length ? out : h("tr", h("td", { colSpan: 5 }, empty("没有符合条件的服务事项"))));
  }

  function row(i) {
    return rowLink(
      i.code === params.open,
      i.code,
      () => go({ ...params, q: filters.q.value.trim(), open: i.code }),
      h(
        "td",
        h("a", { href: "#", onclick: (e) => e.preventDefault() }, i.name_zh),
        h("span.code", { title: "事项编码" }, i.code),
      ),
      h("td.nowrap", { title: i.sla_class }, SLA_LABELS[i.sla_class] || i.sla_class),
      h("td", i.home_visit ? "是" : h("span.muted", "否")),
      h(
        "td.desc",
        { title: i.keywords.join("、") },
        i.keywords.length ? `${i.keywords.length} 个：${i.keywords.slice(0, 6).join("、")}` : "—",
      ),
      h("td", statusBadge(i.active)),
    );
  }

  /**
   * 试一试: a resident's sentence, and the items the intake would suggest for it, each with the
   * synonyms that matched and how much each counted — to check what an edit of the synonyms does.
   */
  function tryBox() {
    const input = h("input", {
      type: "search",
      maxLength: 200,
      placeholder: "输入居民的一句话，如：家里厨房水管漏水了",
      "aria-label": "试一试：输入一句话",
    });
    const out = h("div.try-results", { "aria-live": "polite" });
    let running = null;
    const run = debounce(async () => {
      const q = input.value.trim();
      running?.abort();
      if (q.length < 2) return clear(out);
      running = new AbortController();
      try {
        const { suggestions } = await api("/api/v1/catalogue/suggest", {
          query: { q, limit: 5, explain: true },
          signal: running.signal,
        });
        clear(
          out,
          suggestions.length
            ? h(
                "ol.try-list",
                suggestions.map((sug) => {
                  const why = sug.why || [];
                  const sum = why.reduce((n, w) => n + (w.weight || 0), 0) || 1;
                  return h(
                    "li",
                    h(
                      "button.link.try-item",
                      { type: "button", title: "打开此事项", onclick: () => go({ ...params, open: sug.item_code }) },
                      h("strong", data.items.get(sug.item_code)?.name_zh || sug.name),
                      h(
                        "span.muted.small",
                        ` ${data.categories.find((c) => c.code === sug.category_code)?.name_zh || ""}`,
                      ),
                    ),
                    why.length
                      ? h(
                          "span.why",
                          why.map((w) =>
                            h(
                              "span.reason",
                              { title: `这句话里的“${w.matched}”匹配同义词“${w.phrase}”` },
                              w.matched && w.matched !== w.phrase ? `${w.matched} → ${w.phrase}` : w.phrase,
                              h("span.muted", ` ${Math.round((100 * (w.weight || 0)) / sum)}%`),
                            ),
                          ),
                        )
                      : h("span.muted.small", "（按整体相似度）"),
                  );
                }),
              )
            : h("p.muted.small", "没有匹配的事项：可给相应事项添加这句话里的说法作为同义词"),
        );
      } catch (err) {
        if (err.name !== "AbortError") clear(out, errorLine(err));
      }
    }, 250);
    input.addEventListener("input", run);
    return h(
      "div.try-box",
      h("label", { title: "GET /api/v1/catalogue/suggest?explain=true" }, "试一试：受理时会推荐哪些事项？", input),
      out,
    );
  }

  const close = () => go({ ...params, open: "" });
  closeOnEscape(panes.el, () => Boolean(params.open), close);

  function loadDetail() {
    const open = params.open || "";
    panes.setOpen(Boolean(open));
    if (!open) return clear(panes.detail);
    if (open.startsWith("category:")) {
      const cat = data.categories.find((c) => `category:${c.code}` === open);
      return clear(panes.detail, closeButton(close), cat ? categoryForm(cat) : empty(`没有类别 ${open.slice(9)}`));
    }
    const item = data.items.get(open);
    clear(panes.detail, closeButton(close), item ? itemForm(item) : empty(`没有服务事项 ${open}`));
  }

  function itemForm(item) {
    const keywords = h("textarea", {
      name: "keywords",
      rows: 10,
      placeholder: "每行一个，或用逗号、顿号分隔",
    });
    keywords.value = item.keywords.join("\n");
    const active = checkbox("active", "启用（停用后坐席不能再选此事项，已有工单不受影响）", item.active);
    const counter = h("span.hint");
    const parse = () => [
      ...new Set(
        keywords.value
          .split(/[\n,，、;；]+/)
          .map((w) => w.trim())
          .filter(Boolean),
      ),
    ];
    const check = () => {
      const words = parse();
      counter.textContent = `共 ${words.length} 个`;
      const long = words.find((w) => w.length > MAX_KEYWORD);
      const bad = words.find((w) => w.includes("|"));
      keywords.setCustomValidity(
        long
          ? `“${long}” 超过 ${MAX_KEYWORD} 个字`
          : bad
            ? `“${bad}” 不能含有 |`
            : words.length > MAX_KEYWORDS
              ? `最多 ${MAX_KEYWORDS} 个`
              : "",
      );
    };
    check();
    const errorBox = h("div.form-error");
    const category = data.categories.find((c) => c.code === item.category_code);
    const form = h(
      "form.admin-form",
      h("div.detail-head", h("h2", item.name_zh), h("span.code", item.code), statusBadge(item.active)),
      h(
        "dl.facts",
        h("dt", "类别"),
        h("dd", category?.name_zh || item.category_code),
        h("dt", "时限类别"),
        h("dd", { title: `sla_class: ${item.sla_class}（只读）` }, SLA_LABELS[item.sla_class] || item.sla_class),
        h("dt", "上门服务"),
        h("dd", item.home_visit ? "是" : "否"),
        item.notice ? [h("dt", "安全提示"), h("dd", item.notice)] : null,
      ),
      h("label", h("span", "同义词（居民的说法，用于受理时自动推荐事项） ", counter), keywords),
      active,
      h("div.row", h("button.primary", { type: "submit" }, "保存")),
      errorBox,
    );
    onSubmit(form, errorBox, {
      check,
      save: async () => {
        const body = {};
        const words = parse();
        if (words.join("|") !== item.keywords.join("|")) body.keywords = words;
        const on = active.querySelector("input").checked;
        if (on !== item.active) body.active = on;
        if (!Object.keys(body).length) return toast("没有需要保存的修改");
        const saved = await api(`/api/v1/catalogue/items/${item.code}`, { method: "PATCH", body });
        toast(`${saved.name_zh} 已保存`, { kind: "ok" });
        load();
      },
    });
    return form;
  }

  function categoryForm(cat) {
    const f = {
      name_zh: h("input", { name: "name_zh", required: true, maxLength: 50, value: cat.name_zh }),
      name_en: h("input", { name: "name_en", maxLength: 100, value: cat.name_en }),
      active: checkbox("active", "启用（停用后整类不再显示给坐席）", cat.active),
    };
    const errorBox = h("div.form-error");
    const form = h(
      "form.admin-form",
      h("div.detail-head", h("h2", cat.name_zh), h("span.code", cat.code)),
      h("p.muted.small", `共 ${cat.item_codes.length} 个服务事项`),
      h("div.grid2", field("名称", f.name_zh), field("英文名（供对外接口）", f.name_en)),
      f.active,
      h("div.row", h("button.primary", { type: "submit" }, "保存")),
      errorBox,
    );
    onSubmit(form, errorBox, {
      save: async () => {
        const body = {};
        const zh = f.name_zh.value.trim();
        const en = f.name_en.value.trim();
        const on = f.active.querySelector("input").checked;
        if (zh !== cat.name_zh) body.name_zh = zh;
        if (en !== cat.name_en) body.name_en = en;
        if (on !== cat.active) body.active = on;
        if (!Object.keys(body).length) return toast("没有需要保存的修改");
        await api(`/api/v1/catalogue/categories/${cat.code}`, { method: "PATCH", body });
        toast(`类别 ${zh} 已保存`, { kind: "ok" });
        load();
      },
    });
    return form;
  }

  return {
    el: panes.el,
    show(next) {
      const first = !loaded;
      const listChanged = first || changed(["q", "category", "inactive"], next, params);
      loaded = true;
      params = next;
      filters.q.value = params.q || "";
      filters.category.value = params.category || "";
      filters.inactive.checked = params.inactive === "true";
      if (first) return load();
      if (listChanged) render();
      else
        for (const tr of tbody.querySelectorAll("tr[data-id]"))
          tr.classList.toggle("selected", tr.dataset.id === params.open);
      loadDetail();
    },
  };
}
