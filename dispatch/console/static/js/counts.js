// The worklists' counts the whole console shows (the 回拨 tab, the 督办 tiles): callbacks waiting
// and orders waiting for their rating callback. Refreshed on live events that can change them
// (an order changed, a call ended unanswered), after this console's own actions, and every
// POLL_MS, since a callback closed by a colleague sends no event.

import { api } from "./api.js";
import { coalesce } from "./ui.js";

const POLL_MS = 30000;
const UNANSWERED = new Set(["missed", "abandoned", "voicemail"]);
// The order changes that can move these counts: a new order (it may close a callback), a
// completion (the rating callback is due), a rating or closing, a reopening (no longer due).
const MOVES_COUNTS = new Set(["create", "complete", "complete_direct", "rate", "close", "reopen"]);

export function worklistCounts(app) {
  const listeners = new Set();
  const counts = { callbacks: null, ratings: null };

  const total = (path, query) =>
    api(path, { query: { ...query, limit: 1 } })
      .then((r) => r.total)
      .catch(() => null);

  async function load() {
    const [callbacks, ratings] = await Promise.all([
      total("/api/v1/callbacks", { status: "open" }),
      total("/api/v1/orders", { queue: "callback" }),
    ]);
    Object.assign(counts, { callbacks, ratings });
    for (const fn of listeners) fn(counts);
  }

  const refresh = coalesce(load, { wait: 500, maxWait: 5000 });
  app.on("order", (ev) => (MOVES_COUNTS.has(ev.action) || ev.status === "completed") && refresh());
  app.on("call", (c) => UNANSWERED.has(c.disposition) && refresh());
  app.every(POLL_MS, () => !document.hidden && load());
  load();

  return {
    /** Call fn(counts) now (if known) and at every change. */
    subscribe(fn) {
      listeners.add(fn);
      if (counts.callbacks !== null || counts.ratings !== null) fn(counts);
    },
    refresh,
  };
}
