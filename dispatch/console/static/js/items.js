// Choosing the catalogue item of a new request, shared by the desk's intake (intake.js) and the
// home-visit form (visit-intake.js): the live suggestions for what was typed, the whole catalogue
// to browse by category, and the name of the item chosen.

import { api } from "./api.js";
import { debounce, h } from "./ui.js";

/** The options of an item <select>: a blank first, then the offered items grouped by category. */
export function itemOptions(catalogue, blank = "请选择或点选上方建议") {
  const groups = new Map();
  for (const item of catalogue.items.values()) {
    if (item.active === false) continue;
    if (!groups.has(item.category_code)) groups.set(item.category_code, []);
    groups.get(item.category_code).push(item);
  }
  return [
    h("option", { value: "" }, blank),
    [...groups].map(([cat, items]) =>
      h(
        "optgroup",
        { label: catalogue.categories.get(cat)?.name_zh || cat },
        items.map((i) => h("option", { value: i.code }, i.name_zh)),
      ),
    ),
  ];
}

/** "上门维修·水管": the category and the item, as a submit button names it. */
export function pickedLabel(catalogue, code) {
  const item = catalogue.items.get(code);
  if (!item) return code;
  const cat = catalogue.categories.get(item.category_code)?.name_zh;
  return cat ? `${cat}·${item.name_zh}` : item.name_zh;
}

/**
 * suggest(text): the catalogue's suggestions for what was typed (GET /api/v1/catalogue/suggest),
 * debounced, an earlier question abandoned when a newer one is asked. answer(suggestions) gets []
 * for less than two characters; failed(err) a refusal or a lost connection.
 */
export function suggester({ limit = 3, answer, failed }) {
  let abort = null;
  return debounce(async (text) => {
    const q = text.trim();
    abort?.abort();
    if (q.length < 2) return answer([]);
    abort = new AbortController();
    try {
      const { suggestions } = await api("/api/v1/catalogue/suggest", { query: { q, limit }, signal: abort.signal });
      answer(suggestions);
    } catch (err) {
      if (err.name !== "AbortError") failed(err);
    }
  }, 150);
}
