// Half-typed orders kept in this browser (localStorage), so a sign-in that expires, a reload or a
// second caller loses nothing. One draft per call (keyed by the screen pop's call), per callback,
// or the one "new" draft of a form started by hand; each user has their own, and a draft older
// than a working day is dropped, since it holds a resident's personal data.

const MAX_AGE_MS = 24 * 3600 * 1000;

export function draftStore(username) {
  const key = `sanshe.drafts.${username}`;

  function read() {
    let all = {};
    try {
      all = JSON.parse(localStorage.getItem(key) || "{}") || {};
    } catch {
      all = {};
    }
    const now = Date.now();
    for (const [id, d] of Object.entries(all)) if (!d || now - (d.savedAt || 0) > MAX_AGE_MS) delete all[id];
    return all;
  }

  function write(all) {
    try {
      if (Object.keys(all).length) localStorage.setItem(key, JSON.stringify(all));
      else localStorage.removeItem(key);
    } catch {
      /* storage full or disabled: the form still works, without the safety net */
    }
  }

  return {
    /** Drafts, most recently saved first. */
    list: () => Object.values(read()).sort((a, b) => b.savedAt - a.savedAt),
    get: (id) => read()[id] || null,
    save(draft) {
      const all = read();
      all[draft.id] = { ...draft, savedAt: Date.now() };
      write(all);
    },
    remove(id) {
      const all = read();
      if (!(id in all)) return;
      delete all[id];
      write(all);
    },
  };
}

/** The draft a form belongs to: its call, else its callback, else the one "new" draft. */
export function draftId({ callKey, callbackId }) {
  if (callKey) return `call:${callKey}`;
  if (callbackId != null) return `callback:${callbackId}`;
  return "new";
}
