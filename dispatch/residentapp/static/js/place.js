// Where help is needed: the address typed with completion from the district's gazetteer
// (GET /api/v1/r/places), or the phone's own position ("用我的位置"), which the browser gives
// in WGS-84 as the API wants it.

import { api } from "./api.js";
import { debounced, el, show } from "./dom.js";

/**
 * The address field over `draft` ({address, lat, lon, place}); `changed(fields)` records an edit.
 * Returns the field's element.
 */
export function addressField(draft, changed) {
  const input = el("input", {
    id: "address",
    type: "text",
    autocomplete: "street-address",
    value: draft.address,
    placeholder: "例如：翠苑一区 3幢2单元501室",
  });
  const list = el("ul", { class: "choices", "aria-label": "地址提示" });
  const where = el("p", { class: "hint", "aria-live": "polite" });
  const locate = el("button", { type: "button", class: "big" }, "用我的位置");

  const showWhere = () => {
    if (draft.lat == null) where.textContent = "";
    else if (draft.place) where.textContent = `已定位到：${draft.place}`;
    else where.textContent = "已使用您现在的位置（请在上面写清楼号和门牌号）";
  };

  let asked = "";
  const complete = debounced(async () => {
    const text = input.value.trim();
    asked = text;
    if (text.length < 2) return show(list);
    let places = [];
    try {
      places = (await api("/api/v1/r/places", { query: { q: text } })).places;
    } catch {
      return; // no hints this time; typing on is enough
    }
    if (asked !== text) return; // a later keystroke has asked again
    show(
      list,
      places.map((p) =>
        el(
          "li",
          {},
          el(
            "button",
            {
              type: "button",
              class: "choice",
              onclick: () => {
                // The place begins the address; the resident goes on with the door number.
                input.value = `${p.text} `;
                changed({ address: input.value, lat: p.lat, lon: p.lon, place: p.text });
                show(list);
                showWhere();
                input.focus();
              },
            },
            el("strong", {}, p.text),
            p.community ? el("span", { class: "hint" }, p.community) : null,
          ),
        ),
      ),
    );
  }, 300);

  input.addEventListener("input", () => {
    const fields = { address: input.value };
    // A completion picked earlier stays only while its name is still part of the address.
    if (draft.place && !input.value.includes(draft.place)) Object.assign(fields, { lat: null, lon: null, place: "" });
    changed(fields);
    showWhere();
    complete();
  });

  locate.addEventListener("click", () => {
    if (!navigator.geolocation) {
      where.textContent = "这台设备不能定位，请直接输入地址";
      return;
    }
    locate.disabled = true;
    where.textContent = "正在定位…";
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        locate.disabled = false;
        changed({ lat: pos.coords.latitude, lon: pos.coords.longitude, place: "" });
        showWhere();
        input.focus();
      },
      () => {
        locate.disabled = false;
        where.textContent = "无法取得您的位置（可能没有允许定位），请直接输入地址";
      },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
    );
  });

  showWhere();
  return el("div", { class: "stack" }, el("label", { for: "address" }, "地址"), input, list, locate, where);
}
