// Photos waiting in the outbox, kept in IndexedDB as Blobs. localStorage holds strings only, a few
// MB in all, so a day of photos kept there as data URLs would not fit; IndexedDB keeps binary data
// and as much as the browser allows the site. The outbox's entries (in localStorage) name their
// photos by id. One record a photo: {id, owner, blob, at}; owner is the signed-in user the photo
// waits for, so one user's sweep never touches another's.

import { uuid } from "./ui.js";

const DB_NAME = "sanshe-outbox";
const VERSION = 1;
const STORE = "photos";

let opening = null;

function open() {
  if (!("indexedDB" in window)) return Promise.reject(new Error("IndexedDB unavailable"));
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, VERSION);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: "id" }).createIndex("owner", "owner");
    };
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => (db.close(), (opening = null)); // a newer page upgrades it
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("IndexedDB blocked by another tab"));
  }).catch((err) => {
    opening = null;
    throw err;
  });
  return opening;
}

/** Run work(store) in one transaction; resolves with what work's last request gave, once committed. */
async function inStore(mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    let result;
    const request = work(tx.objectStore(STORE));
    if (request) request.onsuccess = () => (result = request.result);
    tx.oncomplete = () => resolve(result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
  });
}

/** Keep a photo for `owner`; its id. Rejects where IndexedDB cannot be used (the caller falls back). */
export async function putPhoto(owner, blob) {
  const id = crypto.randomUUID?.() ?? uuid();
  await inStore("readwrite", (store) => store.put({ id, owner, blob, at: new Date().toISOString() }));
  return id;
}

/** The photo's Blob, or null when it is not (or no longer) kept. */
export async function getPhoto(id) {
  const row = await inStore("readonly", (store) => store.get(id));
  return row?.blob ?? null;
}

export async function deletePhotos(ids) {
  if (!ids.length) return;
  await inStore("readwrite", (store) => {
    for (const id of ids) store.delete(id);
  });
}

/** The ids of the photos kept for `owner` (to sweep the ones no waiting entry names any more). */
export async function photoIdsOf(owner) {
  return (await inStore("readonly", (store) => store.index("owner").getAllKeys(owner))) || [];
}
