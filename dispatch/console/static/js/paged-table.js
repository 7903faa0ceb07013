// The one paged table of the console: the header, a row per record (a click or Enter opens it),
// the empty state, the request of one page of a list API ({items, total} with limit/offset), the
// pager under it, and a refusal shown as the console's error line. A load still under way when
// the next one starts is cancelled, so a slow answer never overwrites a newer page.

import { api } from "./api.js";
import { clear, empty, errorLine, h } from "./ui.js";

/**
 * pagedTable({ path, columns, cells, ... }) → { el, load(offset), select(id) }
 *
 * - path: the list endpoint, e.g. "/api/v1/orders"; query(): its filters, read at each load.
 * - columns: the header labels; cells(item): that record's <td>s.
 * - open(item): a row opens its record on click or Enter (rows without it are plain);
 *   key(item): the record's id for select() (item.id by default).
 * - onPage(offset): what 上一页 / 下一页 do. A list whose page lives in the URL navigates
 *   (and loads when the route changes); by default the table loads that page itself.
 * - onLoad(items, total): after each page is shown (for views that keep the records).
 * - pageSize, emptyText, className (table classes, ".orders-table").
 *
 * load(offset) fetches the page from that offset (0 when omitted) and resolves once it is shown;
 * refresh() loads the page shown again (after a live event), keeping the scroll, the selection
 * and the row that had the keyboard focus; select(id) marks the open record's row (null for
 * none), now and in pages loaded later.
 */
export function pagedTable({
  path,
  columns,
  cells,
  query = () => ({}),
  open = null,
  key = (item) => item.id,
  onPage = null,
  onLoad = null,
  pageSize = 50,
  emptyText = "没有记录",
  className = "",
}) {
  const tbody = h("tbody");
  const error = h("div");
  const pager = h("div.pager");
  const table = h(
    `table.paged${className}`,
    h(
      "thead",
      h(
        "tr",
        columns.map((label) => h("th", label)),
      ),
    ),
    tbody,
  );
  const el = h("div.paged-table", error, h("div.table-wrap", table), pager);
  let offset = 0;
  let selected = null;
  let running = null;

  function row(item) {
    if (!open) return h("tr", cells(item));
    const id = String(key(item));
    return rowLink(id === selected, id, () => open(item), cells(item));
  }

  function renderPager(total) {
    const to = Math.min(offset + pageSize, total);
    const count = !total ? "共 0 条" : offset < total ? `第 ${offset + 1}–${to} 条，共 ${total} 条` : `共 ${total} 条`;
    const page = (next) => () => (onPage ? onPage(next) : load(next));
    clear(
      pager,
      h("span.muted", count),
      h(
        "button",
        { type: "button", disabled: offset === 0, onclick: page(Math.max(0, offset - pageSize)) },
        "‹ 上一页",
      ),
      h(
        "button",
        { type: "button", disabled: offset + pageSize >= total, onclick: page(offset + pageSize) },
        "下一页 ›",
      ),
    );
  }

  async function load(at = 0, { keepFocus = false } = {}) {
    const focused = keepFocus && tbody.contains(document.activeElement) ? document.activeElement.closest("tr") : null;
    const focusId = focused?.dataset.id;
    running?.abort();
    const mine = new AbortController();
    running = mine;
    offset = Math.max(0, Number(at) || 0);
    el.setAttribute("aria-busy", "true");
    try {
      const { items, total } = await api(path, {
        query: { ...query(), limit: pageSize, offset },
        signal: mine.signal,
      });
      if (running !== mine) return;
      clear(error);
      clear(tbody, items.length ? items.map(row) : h("tr", h("td", { colSpan: columns.length }, empty(emptyText))));
      renderPager(total);
      onLoad?.(items, total);
      if (focusId) [...tbody.children].find((tr) => tr.dataset.id === focusId)?.focus({ preventScroll: true });
    } catch (err) {
      if (err.name === "AbortError" || running !== mine) return;
      clear(error, errorLine(err));
    } finally {
      if (running === mine) el.removeAttribute("aria-busy");
    }
  }

  function select(id) {
    selected = id === null || id === undefined || id === "" ? null : String(id);
    for (const tr of tbody.children) if (tr.dataset.id) tr.classList.toggle("selected", tr.dataset.id === selected);
  }

  const refresh = () => load(offset, { keepFocus: true });

  return { el, load, refresh, select };
}

/** A table row that opens a record on click or Enter (focusable, so the keyboard reaches it). */
export function rowLink(selected, id, open, ...cells) {
  return h(
    selected ? "tr.selected" : "tr",
    { tabIndex: 0, dataset: { id: String(id) }, onclick: open, onkeydown: (e) => e.key === "Enter" && open() },
    cells,
  );
}
