// The field worker's outbox: what they do without a connection waits here and is sent in the order
// it was done once the connection returns. Each entry carries its own Idempotency-Key from the
// moment it is taken, so a request that reached the server before the connection dropped is
// answered, when resent, with its first answer and acts only once (dispatch/orders/actions_api.py
// `once`, dispatch/idempotency.py).
//
// The entries live in localStorage (per user, so they survive a reload); their photos in IndexedDB
// (photo-store.js), named by id, since localStorage holds a few MB of strings at most. Entries of
// an older version that kept photos as data URLs are moved there on loading; where IndexedDB cannot
// be used, photos stay data URLs in localStorage as before.
//
// Three kinds of entry:
// - an order action (签收, 签到, 办结 …): {key, orderId, number, verb, label, path, body, at, steps?};
//   `steps` are a completion's photos, uploaded first (stage completion), each remembered once done;
// - a new order (上门登记): {key, kind: "create", path, body, label, number: "", at};
// - a photo of a new order: {key, kind: "photo", ref, orderId, number, label, stage, n, at}. `ref`
//   is the key of the "create" entry before it. When that entry is sent, the order's id is kept in
//   `created` (stored beside the entries) under its key, and its photos read it from there; a photo
//   taken after the order was already created carries `orderId` itself. A "create" the server
//   refuses takes its photos with it.
// A photo is {photo: id in IndexedDB} (or {dataUrl}); {blob} only in memory, before it is kept.

import { ApiError, api, auth } from "./api.js";
import { photosPath } from "./capabilities.js";
import { deletePhotos, getPhoto, photoIdsOf, putPhoto } from "./photo-store.js";
import { toBlob, toDataUrl } from "./photos.js";
import { uuid } from "./ui.js";

/** A refusal that resending cannot change (409: the order changed meanwhile; 4xx): dropped. */
const final = (err) => err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429;
const offline = (err) => err.status === 0 || err.status >= 500 || err.status === 429;

/** How an entry is named to people: 工单 20261123-0042 的“到场签到”, or “上门登记（楼道灯不亮…）”. */
export const described = (item) => (item.number ? `工单 ${item.number} 的“${item.label}”` : `“${item.label}”`);

const photoHolders = (item) => [item, ...(item.steps || [])];
const photoIds = (list) => list.flatMap(photoHolders).map((p) => p.photo).filter(Boolean);

/**
 * createOutbox(owner) → {items, take, flush, on, ready}. owner names the signed-in user: one user's
 * waiting entries are never sent under another's sign-in. on("change" | "sent" | "dropped", fn):
 * change(items); sent(item, result); dropped(item, err).
 */
export function createOutbox(owner) {
  const storeKey = `sanshe.outbox.${owner}`;
  const createdKey = `${storeKey}.created`;
  let items = read(storeKey, []);
  const created = read(createdKey, {}); // a "create" entry's key → {id, number} of its order
  const listeners = { change: [], sent: [], dropped: [] };
  const emit = (name, ...args) => listeners[name].forEach((fn) => fn(...args));
  let flushing = null;

  function read(key, fallback) {
    try {
      return JSON.parse(localStorage.getItem(key) || "null") ?? fallback;
    } catch {
      return fallback;
    }
  }
  function save() {
    // An order's id is kept while photos of it still wait.
    for (const key of Object.keys(created)) if (!items.some((i) => i.ref === key)) delete created[key];
    localStorage.setItem(storeKey, JSON.stringify(items));
    localStorage.setItem(createdKey, JSON.stringify(created));
    emit("change", items);
  }

  // Photos an older version kept as data URLs go to IndexedDB; photos no entry names any more (a
  // crash between keeping a photo and saving its entry) are swept. Taking and sending wait for it.
  const ready = (async () => {
    try {
      let moved = false;
      for (const holder of items.flatMap(photoHolders)) {
        if (!holder.dataUrl) continue;
        holder.photo = await putPhoto(owner, await toBlob(holder.dataUrl));
        delete holder.dataUrl;
        moved = true;
      }
      if (moved) save();
      const named = new Set(photoIds(items));
      await deletePhotos((await photoIdsOf(owner)).filter((id) => !named.has(id)));
    } catch (err) {
      console.warn("waiting photos stay where they are", err); // no IndexedDB here: data URLs, as before
    }
  })();

  /** Put the entry's photos where they survive a reload: IndexedDB, else a data URL. */
  async function keep(item) {
    for (const holder of photoHolders(item)) {
      if (!holder.blob) continue;
      try {
        holder.photo = await putPhoto(owner, holder.blob);
      } catch {
        holder.dataUrl = await toDataUrl(holder.blob);
      }
      delete holder.blob;
    }
  }
  function forget(holders) {
    const ids = holders.map((p) => p.photo).filter(Boolean);
    for (const holder of holders) {
      delete holder.photo;
      delete holder.dataUrl;
      delete holder.blob;
    }
    return deletePhotos(ids).catch(() => {});
  }

  async function blobOf(holder) {
    const blob = holder.blob || (holder.photo && (await getPhoto(holder.photo).catch(() => null)));
    if (blob) return blob;
    if (holder.dataUrl) return toBlob(holder.dataUrl);
    throw new ApiError(410, "photo_lost", "the photo is no longer kept on this phone", "照片已不在本机（可能被浏览器清理），未能上传");
  }

  async function upload(orderId, holder, { stage, key, n }) {
    const form = new FormData();
    form.append("file", await blobOf(holder), `photo-${n}.jpg`);
    form.append("stage", stage);
    return (await api(photosPath(orderId), { form, headers: { "Idempotency-Key": key } })).id;
  }

  async function send(item) {
    if (item.kind === "create") {
      const order = await api(item.path, { body: item.body, headers: { "Idempotency-Key": item.key } });
      created[item.key] = { id: order.id, number: order.number };
      for (const photo of items) if (photo.ref === item.key) photo.number = order.number;
      return order;
    }
    if (item.kind === "photo") {
      const order = item.orderId != null ? { id: item.orderId } : created[item.ref];
      if (!order) throw new ApiError(409, "not_created", "the request this photo belongs to was not filed", "照片所属的上门登记未能提交");
      return { id: await upload(order.id, item, { stage: item.stage, key: item.key, n: item.n }) };
    }
    // A completion's photos first, each once: the key is the completion's own with the photo's
    // number, so a resend after a dropped connection answers the first upload.
    for (const step of item.steps || []) {
      if (step.id != null || step.lost) continue;
      try {
        step.id = await upload(item.orderId, step, { stage: "completion", key: `${item.key}-photo-${step.n}`, n: step.n });
        forget([step]);
      } catch (err) {
        if (err.code !== "photo_lost") throw err;
        step.lost = true; // the completion goes without it
      }
      if (items.includes(item)) save();
    }
    const sentPhotos = (item.steps || []).filter((s) => s.id != null).map((s) => s.id);
    const body = item.steps?.length ? { ...item.body, photo_ids: sentPhotos } : item.body;
    return api(item.path, { body: body ?? {}, headers: { "Idempotency-Key": item.key } });
  }

  /**
   * Send everything waiting, oldest first; stops at the first network failure. Called again when
   * the connection returns and every little while.
   */
  function flush() {
    if (flushing || !auth.token) return flushing;
    flushing = (async () => {
      await ready;
      while (items.length && navigator.onLine && auth.token) {
        const item = items[0];
        try {
          const result = await send(item);
          items.shift();
          forget(photoHolders(item));
          save();
          emit("sent", item, result);
        } catch (err) {
          if (offline(err) || !final(err)) return;
          // Refused: dropped, and a refused new order takes its photos with it.
          const gone = items.filter((i) => i === item || (item.kind === "create" && i.ref === item.key));
          items = items.filter((i) => !gone.includes(i));
          forget(gone.flatMap(photoHolders));
          save();
          emit("dropped", item, err);
        }
      }
    })().finally(() => (flushing = null));
    return flushing;
  }

  /**
   * Take an entry: sent at once when online and nothing waits before it, else kept and queued.
   * Resolves to {sent: result} or {queued: item}; a refusal of a request sent at once is thrown
   * (for the screen to show), a network failure queues it. A given `key` (a form's own) is kept.
   */
  async function take(entry) {
    await ready;
    const item = { key: crypto.randomUUID?.() ?? uuid(), at: new Date().toISOString(), ...entry };
    if (!items.length && navigator.onLine) {
      try {
        const result = await send(item);
        forget(photoHolders(item));
        return { sent: result };
      } catch (err) {
        if (!offline(err)) throw err;
      }
    }
    await keep(item);
    items.push(item);
    save();
    return { queued: item };
  }

  return {
    get items() {
      return items;
    },
    /** The order a "create" entry made, once sent ({id, number}), while its photos wait. */
    createdBy: (key) => created[key] ?? null,
    take,
    flush,
    ready,
    on(name, fn) {
      listeners[name].push(fn);
    },
  };
}
