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
          notice: i.safety_notice,
        })),
      })),
    (err) => {
      loading = null; // try again next time
      throw err;
    },
  );
  return loading;
}

/** Up to three items for a resident's words, best first, shaped as categories() shapes them. */
export async function suggest(text) {
  const out = await api("/api/v1/r/suggest", { query: { q: text, limit: 3 } });
  return out.suggestions.map((s) => ({
    code: s.item_code,
    name: s.name,
    category_code: s.category_code,
    category_name: s.category_name,
    notice: s.safety_notice,
  }));
}
