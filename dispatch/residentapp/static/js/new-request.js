// A new request, one question per screen, each with its own address so the phone's back button
// steps back through them:
//
//   #/new          what is wrong (free text; the best-matching services appear as you type)
//   #/new/browse   all the services, by category, to pick from
//   #/new/safety   the item's safety notice, to acknowledge before going on (dangerous items only)
//   #/new/address  where (completion from the gazetteer, or the phone's position)
//   #/new/photos   up to 3 photos, made small on the phone
//   #/new/time     when a visit suits
//   #/new/confirm  everything once more, then 提交求助
//   #/new/done     the order number; the photos go up here
//
// The draft lives in this module while the app is open. Its Idempotency-Key is made at the first
// 提交 and kept until the draft changes, so a double tap or a resend after a lost answer files one
// order; each photo has a key of its own for the same reason.

import { api } from "./api.js";
import { categories, suggest } from "./catalogue.js";
import { config, hotlineHref } from "./config.js";
import { debounced, el, heading, messageOf, newKey, problem, show, windowText } from "./dom.js";
import { go } from "./nav.js";
import { photoPicker } from "./photos.js";
import { addressField } from "./place.js";
import { channel } from "./pwa.js";
import { windowPicker } from "./when.js";

const STEPS = { browse, safety, address, photos, time, confirm, done };

function freshDraft() {
  return {
    description: "",
    item: null,
    acknowledged: false,
    address: "",
    lat: null,
    lon: null,
    place: "",
    photos: [],
    window: { from: null, to: null, label: "尽快，时间不限" },
    key: null,
    order: null,
  };
}

let draft = freshDraft();

/** Record an edit: anything that changes what would be filed needs a new Idempotency-Key. */
function changed(fields) {
  Object.assign(draft, fields);
  draft.key = null;
}

export function newRequestScreen(view, [step]) {
  if (!step) {
    if (draft.order) draft = freshDraft(); // the last one was filed: start afresh
    return describe(view);
  }
  // A reload in the middle loses the draft (it is kept in memory only): start from the top.
  const ready = STEPS[step] && (step === "browse" || draft.item) && (step !== "done" || draft.order);
  if (!ready) return go("new");
  // Nothing is filed for a dangerous item before its safety notice has been acknowledged.
  const unsafe = !["browse", "safety", "done"].includes(step) && draft.item.notice && !draft.acknowledged;
  if (unsafe) return go("new/safety");
  return STEPS[step](view);
}

function nextButton(label, onclick) {
  return el("button", { type: "button", class: "big primary", onclick }, label);
}

/** After the service is chosen: its safety notice first, unless already acknowledged. */
function afterItem() {
  go(draft.item.notice && !draft.acknowledged ? "new/safety" : "new/address");
}

function chooseItem(item) {
  if (draft.item?.code !== item.code) changed({ item, acknowledged: false });
}

/** A service to tap; `withCategory`: its category's name under it (among suggestions of any). */
function itemChip(item, onpick, withCategory = true) {
  return el(
    "button",
    {
      type: "button",
      class: "chip",
      "aria-pressed": String(draft.item?.code === item.code),
      onclick: () => onpick(item),
    },
    item.name,
    withCategory ? el("small", {}, item.category_name) : null,
  );
}

// --- what is wrong ------------------------------------------------------------------------------

function describe(view) {
  const text = el("textarea", {
    id: "description",
    rows: "4",
    maxlength: "1000",
    value: draft.description,
    placeholder: "例如：厨房水管漏水了，地上都是水",
  });
  const chips = el("div", { class: "chips", role: "group", "aria-label": "服务类别" });
  const picked = el("p", { class: "picked", "aria-live": "polite" });
  const message = el("p", { class: "problem", role: "alert", hidden: true });
  let shown = [];

  const render = () => {
    const list = draft.item && !shown.some((i) => i.code === draft.item.code) ? [draft.item, ...shown] : shown;
    show(
      chips,
      list.length ? list.map((item) => itemChip(item, pick)) : el("p", { class: "hint" }, "写下情况后，这里会出现相近的服务"),
    );
    picked.textContent = draft.item ? `已选：${draft.item.category_name} · ${draft.item.name}` : "";
  };
  const pick = (item) => {
    chooseItem(item);
    message.hidden = true;
    render();
  };
  let asked = "";
  const lookUp = debounced(async () => {
    const words = text.value.trim();
    asked = words;
    if (words.length < 2) {
      shown = [];
      return render();
    }
    try {
      const found = await suggest(words);
      if (asked !== words) return; // a later keystroke asked again
      shown = found;
      render();
    } catch {
      // no suggestion this time: the categories are still there to browse
    }
  }, 350);
  text.addEventListener("input", () => {
    changed({ description: text.value });
    lookUp();
  });

  show(
    view,
    heading("您需要什么帮助？"),
    el("label", { for: "description" }, "请简单说说遇到的情况"),
    text,
    el("h2", {}, "点一下最接近的服务"),
    chips,
    el("a", { href: "#/new/browse", class: "button" }, "查看全部服务类别"),
    picked,
    message,
    nextButton("下一步", () => {
      const missing = !draft.description.trim() ? "请先写下遇到的情况" : !draft.item ? "请点选一项服务" : "";
      if (!missing) return afterItem();
      message.textContent = missing;
      message.hidden = false;
    }),
  );
  render();
  if (draft.description.trim().length >= 2) lookUp();
}

function browse(view) {
  const items = el("section", { "aria-live": "polite" });
  const cats = el("div", { class: "chips", role: "group", "aria-label": "服务类别" });
  const pickItem = (item) => {
    chooseItem(item);
    history.back(); // back to the description, the chosen service shown there
  };
  const openCategory = (category) => {
    for (const chip of cats.children) chip.setAttribute("aria-pressed", String(chip.dataset.code === category.code));
    show(
      items,
      el("h2", {}, category.name),
      el(
        "div",
        { class: "chips", role: "group", "aria-label": category.name },
        category.items.map((item) => itemChip(item, pickItem, false)),
      ),
    );
  };
  show(view, heading("全部服务"), el("p", { class: "lead" }, "先点类别，再点具体的服务。"), cats, items);
  categories()
    .then((list) => {
      show(
        cats,
        list.map((category) =>
          el(
            "button",
            {
              type: "button",
              class: "chip",
              data: { code: category.code },
              "aria-pressed": "false",
              onclick: () => {
                openCategory(category);
                items.scrollIntoView({ block: "start", behavior: "smooth" });
              },
            },
            category.name,
          ),
        ),
      );
      const current = draft.item && list.find((c) => c.code === draft.item.category_code);
      if (current) openCategory(current);
    })
    .catch((err) => show(cats, problem(err)));
}

function safety(view) {
  show(
    view,
    heading("安全提示"),
    el("p", { class: "lead" }, `关于“${draft.item.name}”，请先注意：`),
    el("div", { class: "notice", role: "alert" }, draft.item.notice),
    config.hotline ? el("a", { href: hotlineHref(), class: "big button" }, `情况紧急？拨打服务热线 ${config.hotline}`) : null,
    nextButton("我已知晓，继续", () => {
      draft.acknowledged = true;
      go("new/address");
    }),
  );
}

// --- where, photos, when ------------------------------------------------------------------------

function address(view) {
  const message = el("p", { class: "problem", role: "alert", hidden: true });
  const field = addressField(draft, changed);
  show(
    view,
    heading("在哪里？"),
    el("p", { class: "lead" }, "请写清小区、楼号和门牌号。"),
    field,
    message,
    nextButton("下一步", () => {
      if (draft.address.trim()) return go("new/photos");
      message.textContent = "请写下地址";
      message.hidden = false;
    }),
  );
  if (!draft.address) {
    api("/api/v1/r/me")
      .then((me) => {
        const input = field.querySelector("input");
        if (me.address && !input.value) {
          input.value = me.address;
          changed({ address: me.address });
        }
      })
      .catch(() => {}); // typing it is as good
  }
}

function photos(view) {
  show(
    view,
    heading("拍张照片（可以不拍）"),
    el("p", { class: "lead" }, "照片能帮服务人员提前了解情况。"),
    photoPicker(draft.photos),
    nextButton("下一步", () => go("new/time")),
  );
}

function time(view) {
  show(
    view,
    heading("希望什么时候上门？"),
    windowPicker(draft, changed),
    nextButton("下一步", () => go("new/confirm")),
  );
}

// --- confirm and file ---------------------------------------------------------------------------

function row(label, value, change) {
  return el(
    "div",
    { class: "summary-row" },
    el("dt", {}, label),
    el("dd", {}, el("span", {}, value), el("a", { href: change, class: "edit", "aria-label": `修改${label}` }, "修改")),
  );
}

const whenText = (w) => (w.from ? `${w.label}（${windowText(w.from, w.to)}）` : w.label);

function confirm(view) {
  const message = el("div", { "aria-live": "assertive" });
  const submit = nextButton("提交求助", () => file(submit, message));
  show(
    view,
    heading("请确认"),
    el(
      "dl",
      { class: "summary" },
      row("服务", `${draft.item.category_name} · ${draft.item.name}`, "#/new"),
      row("情况", draft.description, "#/new"),
      row("地址", draft.address, "#/new/address"),
      row("时间", whenText(draft.window), "#/new/time"),
      row("照片", draft.photos.length ? `${draft.photos.length} 张` : "没有照片", "#/new/photos"),
    ),
    draft.item.notice ? el("div", { class: "notice" }, "安全提示（您已知晓）：", draft.item.notice) : null,
    message,
    submit,
  );
}

async function file(button, message) {
  button.disabled = true;
  button.textContent = "正在提交…";
  show(message);
  draft.key ||= newKey();
  const body = {
    description: draft.description.trim(),
    item_code: draft.item.code,
    address: draft.address.trim(),
    lat: draft.lat,
    lon: draft.lon,
    preferred_from: draft.window.from,
    preferred_to: draft.window.to,
    channel: channel(),
  };
  try {
    draft.order = await api("/api/v1/r/requests", { body, key: draft.key });
    go("new/done");
  } catch (err) {
    button.disabled = false;
    button.textContent = "再次提交";
    show(message, problem(err));
  }
}

function done(view) {
  const order = draft.order;
  const progress = el("div", { "aria-live": "polite" });
  show(
    view,
    heading("已收到您的求助"),
    el("p", { class: "lead" }, "单号 ", el("strong", { class: "number" }, order.number)),
    el("p", {}, "我们会尽快安排服务人员，有进展会发短信告诉您。"),
    progress,
    el("a", { href: `#/requests/${order.id}`, class: "big primary button" }, "查看进度"),
    el("a", { href: "#/", class: "big button" }, "回到首页"),
  );
  if (draft.photos.length) upload(order, progress);
}

/** Send the photos still waiting, one at a time, each with its own key; say how it went. */
async function upload(order, progress) {
  const waiting = draft.photos.filter((p) => !p.uploaded);
  let failed = null;
  show(progress, el("p", { class: "hint" }, "正在上传照片…"));
  for (const photo of waiting) {
    const form = new FormData();
    form.append("file", photo.blob, "photo.jpg");
    form.append("channel", channel());
    try {
      await api(`/api/v1/r/requests/${order.id}/photos`, { file: form, key: photo.key });
      photo.uploaded = true;
    } catch (err) {
      failed = err;
    }
  }
  const sent = draft.photos.filter((p) => p.uploaded).length;
  if (!failed) return show(progress, el("p", { class: "ok" }, `照片已上传（${sent} 张）`));
  show(
    progress,
    el("p", { class: "problem", role: "alert" }, `有 ${draft.photos.length - sent} 张照片没有传上去：${messageOf(failed)}`),
    el("button", { type: "button", class: "big", onclick: () => upload(order, progress) }, "重新上传照片"),
  );
}
