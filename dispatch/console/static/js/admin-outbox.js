// 管理 › 待确认消息: SMS and calls whose outcome is unknown (Twilio timed out after it may have
// taken them, or the sender was stopped mid-send). They are never resent by themselves: the
// admin resends one (the recipient may get it twice) or drops it, in one click. Below, the call
// events that kept failing (the ingest inbox), to send round again once the cause is fixed.

import { api } from "./api.js";
import { actionButton } from "./admin-kit.js";
import { pagedTable } from "./paged-table.js";
import { h, timeEl, toast } from "./ui.js";

const CHANNELS = { sms: "短信", call: "电话", notify: "通知" };

export function outboxSection(app) {
  const el = h("section.card.admin-outbox");

  const messages = pagedTable({
    path: "/api/v1/outbox",
    query: () => ({ status: "uncertain" }),
    columns: ["编号", "方式", "接收方", "内容", "最近尝试", "情况", "处理"],
    emptyText: "没有待确认的消息",
    className: ".admin-table",
    cells: (m) => [
      h("td.nowrap", `#${m.id}`),
      h("td.nowrap", CHANNELS[m.channel] || m.channel),
      h("td.nowrap", m.recipient),
      h("td", m.body || h("span.muted", "—")),
      h("td.nowrap", m.claimed_at ? timeEl(m.claimed_at) : h("span.muted", "—")),
      h("td", { title: m.last_error }, "发送结果未知（服务商超时或发送中断），未自动重发"),
      h(
        "td.nowrap",
        actionButton("重发", `POST /api/v1/outbox/${m.id}/resend：对方可能收到两次`, async () => {
          await api(`/api/v1/outbox/${m.id}/resend`, { method: "POST" });
          toast(`消息 #${m.id} 将重新发送`, { kind: "ok" });
          await messages.refresh();
        }),
        " ",
        actionButton("放弃", `POST /api/v1/outbox/${m.id}/drop：不再发送`, async () => {
          await api(`/api/v1/outbox/${m.id}/drop`, { method: "POST" });
          toast(`消息 #${m.id} 已放弃发送`, { kind: "ok" });
          await messages.refresh();
        }),
      ),
    ],
  });

  const events = pagedTable({
    path: "/api/v1/telephony/inbox",
    query: () => ({ state: "failed" }),
    columns: ["编号", "收到时间", "来源", "事件", "尝试次数", "错误", "处理"],
    emptyText: "没有处理失败的通话事件",
    className: ".admin-table",
    cells: (row) => [
      h("td.nowrap", `#${row.id}`),
      h("td.nowrap", timeEl(row.received_at)),
      h("td.nowrap", row.source),
      h("td", h("code", JSON.stringify(row.event))),
      h("td.nowrap", String(row.attempts)),
      h("td", row.last_error),
      h(
        "td.nowrap",
        actionButton("重试", `POST /api/v1/telephony/inbox/${row.id}/retry`, async () => {
          await api(`/api/v1/telephony/inbox/${row.id}/retry`, { method: "POST" });
          toast(`通话事件 #${row.id} 已重新处理`, { kind: "ok" });
          await events.refresh();
        }),
      ),
    ],
  });

  el.append(
    h("h2", { title: "GET /api/v1/outbox?status=uncertain" }, "待确认消息"),
    h("p.hint", "这些短信和电话可能已经送达，也可能没有；系统不会自动重发，以免居民收到两次。请核实后选择重发或放弃。"),
    messages.el,
    h("h2", { title: "GET /api/v1/telephony/inbox?state=failed" }, "处理失败的通话事件"),
    h("p.hint", "多次处理仍失败的通话事件，不影响其他事件；排除原因后可重试。"),
    events.el,
  );

  return {
    el,
    show() {
      messages.load(0);
      events.load(0);
    },
  };
}
