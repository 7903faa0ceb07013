// A search field that picks one record: type (searched as you type), tap a match, and the one
// chosen shows as a chip with 更换. The visit-plan form picks its resident and its visitor so,
// instead of asking for their ids.

import { clear, debounce, errorLine, h } from "./ui.js";

/**
 * searchPicker({label, placeholder, search, describe}) → {el, value(), reset()}.
 * search(text) resolves to the matches; describe(match) is how one is shown (a node or text).
 */
export function searchPicker({ label, placeholder, search, describe, none = "没有找到匹配的记录" }) {
  let chosen = null;
  let asked = 0; // only the latest search's answer is shown
  const input = h("input", { type: "search", "aria-label": label, placeholder, autocomplete: "off" });
  const results = h("ul.picker-results", { "aria-label": `${label}搜索结果` });
  const picked = h("div.picker-chosen", { hidden: true });

  const run = debounce(async () => {
    const text = input.value.trim();
    const mine = ++asked;
    if (!text) return clear(results);
    try {
      const found = await search(text);
      if (mine !== asked) return;
      clear(
        results,
        found.length
          ? found.map((match) => h("li", h("button.link", { type: "button", onclick: () => choose(match) }, describe(match))))
          : h("li.muted.small", none),
      );
    } catch (err) {
      if (mine === asked) clear(results, h("li", errorLine(err)));
    }
  }, 250);

  function choose(match) {
    chosen = match;
    input.hidden = true;
    picked.hidden = false;
    clear(results);
    clear(picked, h("span.chip", describe(match)), h("button.small", { type: "button", onclick: () => reset(true) }, "更换"));
  }

  function reset(focus = false) {
    chosen = null;
    asked += 1;
    input.value = "";
    input.hidden = false;
    picked.hidden = true;
    clear(picked);
    clear(results);
    if (focus) input.focus();
  }

  input.addEventListener("input", run);
  input.addEventListener("keydown", (e) => e.key === "Enter" && e.preventDefault()); // Enter never submits the form half-filled
  return { el: h("div.search-picker", input, picked, results), value: () => chosen, reset: () => reset() };
}
