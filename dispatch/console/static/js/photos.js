// Photos (of a completion, of a home-visit request), taken with the phone's camera and made small on
// the phone (at most 1600 px on the long side, JPEG) before they wait in the outbox (as Blobs in
// IndexedDB, photo-store.js) or go up.

import { h } from "./ui.js";

export const MAX_PHOTOS = 6;
const MAX_SIDE = 1600;
const QUALITY = 0.8;

/** A picked image file → a JPEG Blob no larger than MAX_SIDE on either side. */
export async function compress(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close?.();
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("无法压缩照片"))), "image/jpeg", QUALITY),
  );
}

/** A Blob as a data URL: where IndexedDB cannot be used, a waiting photo is kept in localStorage. */
export function toDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** A data URL back to a Blob, for the multipart upload and for moving photos kept by an older
 * version into IndexedDB (decoded here: the console's Content Security Policy lets fetch() reach
 * this server only, not data: URLs). */
export async function toBlob(dataUrl) {
  const [head, data] = dataUrl.split(",", 2);
  const type = head.slice("data:".length).split(";")[0];
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type });
}

/** The photo picker: {el, photos()} where photos() are the JPEG Blobs chosen (at most 6). */
export function photoPicker() {
  const photos = []; // {blob, url}: the url an object URL for the thumbnail, revoked when removed
  const thumbs = h("div.photo-thumbs");
  const status = h("span.muted.small");
  const input = h("input", { type: "file", accept: "image/*", capture: "environment", multiple: true, hidden: true });
  const add = h("button", { type: "button", onclick: () => input.click() }, "拍照 / 添加照片");
  const render = () => {
    thumbs.replaceChildren(
      ...photos.map(({ url }, i) =>
        h(
          "span.photo-thumb",
          h("img", { src: url, alt: `照片 ${i + 1}` }),
          h("button.small", { type: "button", onclick: () => remove(i) }, "删除"),
        ),
      ),
    );
    add.disabled = photos.length >= MAX_PHOTOS;
    status.textContent = `${photos.length} / ${MAX_PHOTOS} 张`;
  };
  const remove = (i) => {
    URL.revokeObjectURL(photos[i].url);
    photos.splice(i, 1);
    render();
  };
  input.addEventListener("change", async () => {
    let unreadable = 0;
    for (const file of [...input.files].slice(0, MAX_PHOTOS - photos.length)) {
      try {
        const blob = await compress(file);
        photos.push({ blob, url: URL.createObjectURL(blob) });
      } catch {
        unreadable += 1;
      }
    }
    input.value = "";
    render();
    if (unreadable) status.textContent += `（${unreadable} 张无法读取，请重拍）`;
  });
  render();
  return {
    el: h("div.photos", h("div.row", add, status), input, thumbs),
    photos: () => photos.map((p) => p.blob),
    clear: () => {
      photos.splice(0).forEach((p) => URL.revokeObjectURL(p.url));
      render();
    },
  };
}
