// 上门登记: a request filed on the spot (channel "visit"), from the phone — for the resident in
// front of the worker (为居民登记: their number, their name if they give it, and their consent), or
// what a grid worker finds on patrol (巡查上报: a broken stair light, a neighbour not seen for days;
// no resident). What was said is classified as the desk's intake does it: live suggestions to tap,
// or the catalogue to browse; the item's safety notice shows before it is sent. The address is
// typed (the server never fills in a registered one for a provider), and 使用我的位置 adds the
// phone's position. Up to 6 photos go up after the order, as its intake photos.
//
// Everything goes through the outbox (outbox.js): online it is sent at once; offline the request
// and then each photo wait, in that order, and the photos learn the order's id when it is created.
// The form has one Idempotency-Key until it is filed, so a retry creates one order.

import { fieldKit } from "./field.js";
import { itemOptions, pickedLabel, suggester } from "./items.js";
import { photoPicker } from "./photos.js";
import { position } from "./worker-actions.js";
import { clear, errorLine, errorText, h, uuid } from "./ui.js";

const MODES = [
  ["resident", "为居民登记"],
  ["patrol", "巡查上报"],
];
const CONSENTS = [
  ["verbal", "口头同意"],
  ["signed", "签字同意"],
];
const PLACEHOLDERS = {
  resident: "居民反映的问题，如：家里厨房水管漏水",
  patrol: "巡查发现的情况，如：3幢楼道灯不亮，晚上很黑",
};

const newKey = () => crypto.randomUUID?.() ?? uuid();
const short = (text) => (text.length > 12 ? `${text.slice(0, 12)}…` : text);

export function create(app) {
  const { outbox, bar } = fieldKit(app);
  let mode = "resident";
  let key = newKey();
  let consent = null; // "verbal" | "signed"
  let where = null; // {lat, lon}: the phone's position, when asked for
  let filed = null; // {key, photos, order}: the last request filed, for the result to follow it

  const f = {
    description: h("textarea", { name: "description", rows: 4, maxLength: 2000, required: true }),
    item: h("select", { name: "item_code", "aria-label": "服务事项" }, itemOptions(app.catalogue, "请点选上方建议，或在此选择")),
    address: h("input", { name: "address", maxLength: 300, required: true, autocomplete: "off", placeholder: "如 翠苑一区3幢2单元" }),
    name: h("input", { name: "resident_name", maxLength: 50, autocomplete: "off", placeholder: "可不填" }),
    phone: h("input", { name: "caller_phone", type: "tel", inputmode: "tel", maxLength: 32, autocomplete: "off" }),
    consentNote: h("input", { name: "consent_note", maxLength: 300, autocomplete: "off", placeholder: "可不填，如：老人本人同意" }),
  };
  const modeBox = h("div.segmented.visit-modes", { role: "group", "aria-label": "登记类型" });
  const suggestBox = h("div.suggestions", { "aria-live": "polite" });
  const notice = h("div");
  const whereLine = h("p.muted.small.visit-where", { role: "status" });
  const locate = h("button", { type: "button", onclick: () => useMyPosition() }, "使用我的位置");
  const consentChips = h("div.reason-chips.consent-chips", { role: "group", "aria-label": "居民同意方式" });
  const photos = photoPicker();
  const submit = h("button.primary.wide", { type: "submit" }, "提交登记");
  const formError = h("div");
  const residentBox = h(
    "fieldset.visit-resident",
    h("legend", "居民"),
    h("label", "居民电话 *", f.phone),
    h("label", "居民姓名", f.name),
    h("div.label", "居民同意 *"),
    consentChips,
    h("label", "同意说明", f.consentNote),
  );
  const form = h(
    "form.visit-form",
    { autocomplete: "off", novalidate: true, onsubmit: (e) => (e.preventDefault(), file()) },
    modeBox,
    h("label", "诉求描述 *", f.description),
    suggestBox,
    h("label", "服务事项 *", f.item),
    notice,
    h("label", "所在地址 *", f.address),
    h("div.row", locate, whereLine),
    residentBox,
    h("h3", "现场照片（最多 6 张）"),
    photos.el,
    formError,
    submit,
  );
  const result = h("div.visit-result");
  const el = h("section.view.field.phone-app.visit-intake", h("h2", "上门登记"), form, result);

  // --- the form's parts ------------------------------------------------------------------------

  function renderMode() {
    clear(
      modeBox,
      MODES.map(([value, label]) =>
        h("button", { type: "button", "aria-pressed": String(mode === value), onclick: () => ((mode = value), renderMode()) }, label),
      ),
    );
    residentBox.hidden = mode !== "resident";
    f.phone.required = mode === "resident";
    f.description.placeholder = PLACEHOLDERS[mode];
  }

  function renderConsent() {
    clear(
      consentChips,
      CONSENTS.map(([value, label]) =>
        h("button", { type: "button", "aria-pressed": String(consent === value), onclick: () => ((consent = consent === value ? null : value), renderConsent()) }, label),
      ),
    );
  }

  let suggestions = [];
  const suggest = suggester({
    answer: (list) => ((suggestions = list), renderSuggestions()),
    failed: (err) =>
      clear(suggestBox, err.status === 0 ? h("span.muted.small", "离线：暂无类别建议，请在“服务事项”中选择") : errorLine(err)),
  });

  function renderSuggestions() {
    if (!f.description.value.trim()) return clear(suggestBox);
    if (!suggestions.length) return clear(suggestBox, h("span.muted.small", "暂无类别建议：请在“服务事项”中选择，或补充描述"));
    clear(
      suggestBox,
      h("span.muted.small", "建议："),
      suggestions.map((s) =>
        h(
          f.item.value === s.item_code ? "button.suggestion.chosen" : "button.suggestion",
          { type: "button", "aria-pressed": String(f.item.value === s.item_code), dataset: { code: s.item_code }, onclick: () => choose(s.item_code) },
          h("span", s.name),
          h("span.muted.small", app.catalogue.categories.get(s.category_code)?.name_zh || s.category_code),
        ),
      ),
    );
  }

  function choose(code) {
    f.item.value = f.item.value === code ? "" : code;
    renderItem();
  }

  /** The chosen item: its safety notice before anything is sent, and the submit button names it. */
  function renderItem() {
    clear(formError);
    const item = app.catalogue.items.get(f.item.value);
    clear(notice, item?.notice ? h("div.safety", h("strong", "安全提示 "), item.notice) : null);
    submit.textContent = item ? `提交登记：${pickedLabel(app.catalogue, item.code)}` : "提交登记";
    renderSuggestions();
  }

  async function useMyPosition() {
    locate.disabled = true;
    whereLine.textContent = "正在定位…";
    try {
      where = await position();
      clear(
        whereLine,
        `已定位：纬度 ${where.lat.toFixed(5)}，经度 ${where.lon.toFixed(5)} `,
        h("button.small", { type: "button", onclick: () => ((where = null), clear(whereLine)) }, "不用位置"),
      );
    } catch (err) {
      where = null;
      whereLine.textContent = `${err.message}：请只填写地址`;
    } finally {
      locate.disabled = false;
    }
  }

  // --- filing ------------------------------------------------------------------------------------

  /** The request as the API takes it, or the Chinese reason it cannot go yet. */
  function request() {
    const description = f.description.value.trim();
    const address = f.address.value.trim();
    if (!description) return { problem: "请填写诉求描述", focus: f.description };
    if (!f.item.value) return { problem: "请先确认服务事项：点选建议，或在“服务事项”中选择", focus: f.item };
    if (!address) return { problem: "请填写所在地址", focus: f.address };
    const body = { description, item_code: f.item.value, channel: "visit", address };
    if (where) Object.assign(body, { lat: where.lat, lon: where.lon });
    if (mode === "resident") {
      if (!f.phone.value.trim()) return { problem: "请填写居民电话（没有居民的巡查发现请选“巡查上报”）", focus: f.phone };
      if (!consent) return { problem: "请先征得居民同意，并选择同意方式（口头同意或签字同意）", focus: consentChips };
      body.caller_phone = f.phone.value.trim();
      body.resident_name = f.name.value.trim() || null;
      body.consent = { given: true, method: consent, note: f.consentNote.value.trim() || null };
    }
    return { body };
  }

  async function file() {
    clear(formError);
    const { body, problem, focus } = request();
    if (problem) {
      clear(formError, h("p.error", { role: "alert" }, problem));
      (focus.matches("input, select, textarea") ? focus : focus.querySelector("button"))?.focus();
      return;
    }
    const blobs = photos.photos();
    submit.disabled = true;
    submit.textContent = "提交中…";
    let out;
    try {
      const label = `上门登记（${short(body.description)}）`;
      out = await outbox.take({ kind: "create", key, path: "/api/v1/orders", body, label, number: "" });
    } catch (err) {
      clear(formError, errorLine(err));
      submit.disabled = false;
      renderItem();
      return;
    }
    const order = out.sent || null;
    const failed = [];
    for (const [i, blob] of blobs.entries()) {
      const n = i + 1;
      const photo = { kind: "photo", key: `${key}-photo-${n}`, ref: key, orderId: order?.id ?? null, number: order?.number || "" };
      try {
        await outbox.take({ ...photo, label: `登记照片 ${n}`, stage: "intake", n, blob });
      } catch (err) {
        failed.push(`照片 ${n}：${errorText(err)}`);
      }
    }
    filed = { key, photos: blobs.length, order };
    form.hidden = true;
    showResult(failed);
  }

  function showResult(failed = []) {
    const { order, photos: count } = filed;
    const waiting = outbox.items.filter((i) => i.key === filed.key || i.ref === filed.key);
    const line = order
      ? h("p", h("span.muted", "已登记 "), h("strong.number", order.number), " ", order.status === "offered" ? "已自动派单，等待签收" : "等待派单")
      : h("p.warn", "无网络：登记已保存在本机，联网后自动提交");
    const photoLine = !count
      ? null
      : waiting.length
        ? h("p.muted", `登记照片 ${count} 张：${waiting.filter((i) => i.kind === "photo").length} 张待发送`)
        : h("p.muted", `登记照片 ${count - failed.length} 张已上传`);
    clear(
      result,
      h(
        "section.card.created",
        line,
        photoLine,
        failed.map((text) => h("p.error", text)),
        h("button.primary.wide", { type: "button", onclick: () => reset() }, "再登记一单"),
      ),
    );
  }

  // A request filed offline is followed to the server: the result names its number once it is there.
  outbox.on("sent", (item, answer) => {
    if (!filed || (item.key !== filed.key && item.ref !== filed.key)) return;
    if (item.kind === "create") filed.order = answer;
    showResult();
  });
  outbox.on("dropped", (item) => {
    if (filed && item.key === filed.key) clear(result, h("p.error", "登记未被受理（原因见上方），请核对后重新登记"), h("button.primary.wide", { type: "button", onclick: () => reset() }, "重新登记"));
  });

  function reset() {
    key = newKey();
    filed = null;
    consent = null;
    where = null;
    suggestions = [];
    form.reset();
    photos.clear();
    clear(result);
    clear(whereLine);
    clear(suggestBox);
    form.hidden = false;
    submit.disabled = false;
    renderMode();
    renderConsent();
    renderItem();
    f.description.focus({ preventScroll: true });
  }

  form.addEventListener("input", (e) => {
    if (e.target === f.description) suggest(f.description.value);
    if (e.target === f.item) renderItem();
  });

  renderMode();
  renderConsent();
  renderItem();
  return {
    el,
    show() {
      bar.place(el);
      outbox.flush();
    },
  };
}
