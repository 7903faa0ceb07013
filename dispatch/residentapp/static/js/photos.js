// Photos of the problem: picked from the camera or the album, made small on the phone (a JPEG at
// most 1600 px on its long side, and within the server's size limit) before they are uploaded,
// so a weak connection carries a few hundred kilobytes rather than a 10 MB camera file.

import { config } from "./config.js";
import { el, newKey, show } from "./dom.js";

const LONG_SIDE = 1600;
const QUALITIES = [0.82, 0.7, 0.55, 0.4];

function jpeg(canvas, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));
}

/** A picked image file → {blob, url, key}: a JPEG within the limits, its preview, its upload key. */
export async function shrink(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const limit = (config.max_photo_mb || 10) * 1024 * 1024;
  let blob = null;
  for (const quality of QUALITIES) {
    blob = await jpeg(canvas, quality);
    if (blob && blob.size <= limit) break;
  }
  if (!blob || blob.size > limit) throw new Error("photo too large");
  // The key is made once per photo: a resend after a lost answer never stores it twice.
  return { blob, url: URL.createObjectURL(blob), key: newKey(), uploaded: false };
}

/** The photo step's picker over `photos` (the draft's list, changed in place). */
export function photoPicker(photos) {
  const most = config.max_photos || 3;
  const thumbs = el("div", { class: "thumbs" });
  const status = el("p", { class: "hint", "aria-live": "polite" });
  const input = el("input", { type: "file", accept: "image/*", multiple: true, hidden: true, id: "photo-file" });
  const add = el("button", { type: "button", class: "big" }, "拍照或选择照片");
  add.addEventListener("click", () => input.click());

  const render = (note = "") => {
    show(
      thumbs,
      photos.map((photo, i) =>
        el(
          "figure",
          { class: "thumb" },
          el("img", { src: photo.url, alt: `照片 ${i + 1}` }),
          el(
            "button",
            {
              type: "button",
              onclick: () => {
                URL.revokeObjectURL(photos.splice(i, 1)[0].url);
                render();
              },
            },
            "删除",
          ),
        ),
      ),
    );
    add.disabled = photos.length >= most;
    status.textContent = note || `已选 ${photos.length} 张，最多 ${most} 张`;
  };

  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    let note = files.length > most - photos.length ? `最多 ${most} 张，多出的没有加入` : "";
    status.textContent = "正在处理照片…";
    for (const file of files.slice(0, most - photos.length)) {
      if (!file.type.startsWith("image/")) {
        note = "只能添加照片";
        continue;
      }
      try {
        photos.push(await shrink(file));
      } catch {
        note = "有一张照片无法读取，请换一张";
      }
    }
    render(note);
  });
  render();
  return el("div", { class: "stack" }, add, input, status, thumbs);
}
