// The worker's outbox: order actions taken without a connection wait here (localStorage, so they
// survive a reload) and are sent in the order they were taken once the connection returns. Each
// carries its own Idempotency-Key from the moment it is taken, so a request that reached the
// server before the connection dropped is answered, when resent, with its first answer and acts
// only once (dispatch/orders/actions_api.py `once`).

import { api, auth } from "./api.js";
import { uuid } from "./ui.js";

/** A refusal that resending cannot change (409: the order changed meanwhile; 4xx): dropped. */
const final = (err) => err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429;
const offline = (err) => err.status === 0 || err.status >= 500 || err.status === 429;

/**
 * createOutbox(owner, {onChange, onSent, onDropped}) → {items, take, flush}. owner names the
 * signed-in user: one user's waiting actions are never sent under another's sign-in.
 * An item: {key, orderId, number, verb, label, path, body, at, steps?}. `steps` (a completion's
 * photos) run first, each remembered once done so a resend does not repeat it.
 */
export function createOutbox(owner, { onChange = () => {}, onSent = () => {}, onDropped = () => {}, upload }) {
  const storeKey = `sanshe.outbox.${owner}`;
  let items = load();
  let flushing = null;

  function load() {
    try {
      return JSON.parse(localStorage.getItem(storeKey) || "[]");
    } catch {
      return [];
    }
  }
  function save() {
    localStorage.setItem(storeKey, JSON.stringify(items));
    onChange(items);
  }

  async function send(item) {
    for (const step of item.steps || []) {
      if (step.id != null) continue;
      step.id = await upload(item, step);
      save();
    }
    const body = item.steps?.length ? { ...item.body, photo_ids: item.steps.map((s) => s.id) } : item.body;
    return api(item.path, { body: body ?? {}, headers: { "Idempotency-Key": item.key } });
  }

  /**
   * Send everything waiting, oldest first; stops at the first network failure. The caller calls
   * it again when the connection returns and every little while.
   */
  function flush() {
    if (flushing || !auth.token) return flushing;
    flushing = (async () => {
      while (items.length && navigator.onLine) {
        const item = items[0];
        try {
          const result = await send(item);
          items.shift();
          save();
          onSent(item, result);
        } catch (err) {
          if (offline(err) || !final(err)) return;
          items.shift();
          save();
          onDropped(item, err);
        }
      }
    })().finally(() => (flushing = null));
    return flushing;
  }

  /**
   * Take an action: sent at once when online and nothing waits before it, else queued. Resolves
   * to {sent: result} or {queued: item}; a refusal of a request sent at once is thrown (shown by
   * the action), a network failure queues it.
   */
  async function take(action) {
    const item = { key: crypto.randomUUID?.() ?? uuid(), at: new Date().toISOString(), ...action };
    if (!items.length && navigator.onLine) {
      try {
        return { sent: await send(item) };
      } catch (err) {
        if (!offline(err)) throw err;
      }
    }
    items.push(item);
    save();
    return { queued: item };
  }

  return {
    get items() {
      return items;
    },
    take,
    flush,
  };
}
