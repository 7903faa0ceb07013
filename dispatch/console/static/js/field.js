// What the field screens (我的工单, 上门登记) share in one sign-in: the outbox (outbox.js) and the
// connection bar above them — 在线 / 离线 / 重新连接中, N 项待发送 (tap for the list) and what the
// server refused when it was sent. One bar, moved into whichever field screen is shown, so the
// state is always on screen and a refusal is said once; the console's toasts follow it into the
// page's flow, so none covers a button. The outbox is sent when the connection
// returns (the online event, the event stream reopening) and every little while, since a weak
// connection does not always fire the online event.

import { createOutbox, described } from "./outbox.js";
import { clear, errorText, h, timeEl } from "./ui.js";

const RETRY_MS = 15000;

/** {outbox, bar}: created once per sign-in (app). */
export function fieldKit(app) {
  if (app.field) return app.field;
  const outbox = createOutbox(app.user.username);
  const { signal } = app.lifetime;

  const conn = h("div.conn", { role: "status", "aria-live": "polite" });
  const waitingList = h("ol.waiting-list", { hidden: true });
  const problems = h("div.problems");
  const el = h("div.conn-bar", conn, waitingList, problems);

  function show() {
    const waiting = outbox.items.length;
    const state = !navigator.onLine ? ["offline", "离线"] : app.liveState === "open" ? ["online", "在线"] : ["reconnecting", "重新连接中"];
    conn.className = `conn ${state[0]}`;
    conn.dataset.state = state[0];
    clear(
      conn,
      h("span.conn-state", state[1]),
      waiting
        ? h("button.waiting", { type: "button", "aria-expanded": String(!waitingList.hidden), onclick: toggle }, `${waiting} 项待发送`)
        : null,
    );
    clear(
      waitingList,
      outbox.items.map((i) => h("li", `${i.number} ${i.label}`.trim(), h("span.muted", ` ${timeEl(i.at).textContent} 时操作`))),
    );
    if (!waiting) waitingList.hidden = true;
  }
  function toggle() {
    waitingList.hidden = !waitingList.hidden;
    show();
  }

  outbox.on("change", show);
  outbox.on("dropped", (item, err) => {
    const why =
      err.status === 409 && item.verb
        ? `工单 ${item.number} 已有变化（${errorText(err)}），“${item.label}”未执行，已移出待发送`
        : `${described(item)}被拒绝：${errorText(err)}，已移出待发送`;
    problems.append(
      h("p.error.conflict", { role: "alert" }, why, " ", h("button.small", { type: "button", onclick: (e) => e.target.parentElement.remove() }, "知道了")),
    );
  });
  window.addEventListener("online", () => (show(), outbox.flush()), { signal });
  window.addEventListener("offline", show, { signal });
  app.on("live", () => {
    show();
    if (app.liveState === "open") outbox.flush();
  });
  app.every(RETRY_MS, () => outbox.flush());
  show();

  /** Put the bar at the top of a field screen, with the console's toasts in the flow under it. */
  function place(screen) {
    screen.prepend(el, document.getElementById("toasts"));
    show();
  }

  app.field = { outbox, bar: { el, show, place } };
  return app.field;
}
