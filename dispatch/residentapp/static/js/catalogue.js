// The services a resident can ask for (GET /api/v1/r/catalogue, read once per visit) and the
// live suggestion of the best-matching ones for what they typed (GET /api/v1/r/suggest).

import { api } from "./api.js";

let loading = null;

/** [{code, name, items: [{code, name, category_code, category_name, notice}]}], active only. */
export function categories() {
  loading ||= api("/api/v1/r/catalogue").then(
    (out) =>
      out.categories.map((c) => ({
        code: c.code,
        name: c.name,
        items: c.items.map((i) => ({
          code: i.code,
          name: i.name,
          category_code: c.code,
          category_name: c.name,
          notice: i.notice || "",
        })),
      })),
    (err) => {
      loading = null; // try again next time
      throw err;
    },
  );
  return loading;
}

export async function itemByCode(code) {
  for (const category of await categories()) {
    const found = category.items.find((i) => i.code === code);
    if (found) return found;
  }
  return null;
}

/** Up to three items for a resident's words, best first. */
export async function suggest(text) {
  const out = await api("/api/v1/r/suggest", { query: { q: text, limit: 3 } });
  const items = await Promise.all(out.suggestions.map((s) => itemByCode(s.item_code)));
  return items.filter(Boolean);
}
