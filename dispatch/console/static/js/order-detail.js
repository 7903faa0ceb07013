// One order in full: its facts, the actions this user may take, the ranked candidates with
// their reasons (call centre only) and the timeline, with providers named and values labelled.

import { api } from "./api.js";
import { actionBar, allows, dispatchTo } from "./actions.js";
import { orderPhone } from "./reveal.js";
import {
  CHANNEL_LABELS,
  PRIORITY_LABELS,
  RATING_OUTCOMES,
  STATUS_LABELS,
  actorLabel,
  clear,
  deadlineEl,
  errorLine,
  fmtMinutes,
  h,
  orderBadges,
  stars,
  statusBadge,
  tagChips,
  timeEl,
  toast,
} from "./ui.js";

// The roles that may read an order's ranked candidates (GET /api/v1/orders/{id}/candidates).
const CANDIDATE_READERS = ["admin", "supervisor", "operator"];

// Every action code a timeline entry may carry (orders/state.py's Action and the events
// recorded beside it); an unknown one shows its code rather than nothing.
export const EVENT_LABELS = {
  create: "受理",
  offer: "派单",
  accept: "签收",
  decline: "退单",
  expire: "超时未签收",
  withdraw: "收回派单",
  check_in: "到场签到",
  check_out: "离开现场",
  photo: "上传照片",
  signature: "居民签名",
  complete: "办结",
  complete_direct: "直接办结",
  close: "归档",
  reopen: "重办",
  cancel: "撤销",
  rate: "回访评价",
  escalate: "督办升级",
  remind: "时限提醒",
  urge: "催办",
  extend: "延期",
  note: "内部备注",
  repeat_call: "重复来电",
  to_supervisor: "转督办派单",
  callback_requested: "待回访",
  visit_planned: "定期探访",
  visit_not_offered: "探访未能派出",
  visit_not_home: "探访未遇",
  visit_need: "探访发现需求",
  visit_need_filed: "需求转工单",
};

// The facts an entry's data may hold, in Chinese. Keys not listed (and those shown elsewhere:
// the provider beside the actor, the internal flag as a badge) stay out of the line; the raw
// data is in its tooltip. The ranking score is never shown as a number: its parts are the
// reasons in the entry's note.
const DATA_LABELS = {
  distance_km: "距离",
  distance_m: "到场距离",
  mode: "方式",
  level: "级别",
  stars: "星级",
  working_days: "工作日",
  complete_by: "新时限",
  channel: "渠道",
  item_code: "事项",
  priority: "紧急程度",
  reason: "原因",
  location: "定位",
  on_time: "按时",
  returns: "累计退单",
  resident_created: "新建居民档案",
  name_mismatch: "姓名与档案不一致",
  possible_duplicate_of: "可能重复",
  far: "偏远签到",
  outcome: "回访结果",
  reopen: "要求重办",
};
// Facts whose "no" is news (a late sign-for or completion), unlike the other flags.
const FALSE_MATTERS = new Set(["on_time"]);

// How precisely an address was placed on the map (geo: gazetteer precision, or where the point
// came from).
export const LOCATION_LABELS = {
  building: "楼栋",
  compound: "小区",
  landmark: "地标",
  road: "道路",
  community: "社区",
  given: "坐标",
  resident: "登记地址",
  online: "在线地图",
};
const MODE_LABELS = { auto: "自动", manual: "手工", batch: "批量" };

/** The detail of order `o` (GET /api/v1/orders/{id}); onChanged() runs after an action succeeded. */
export function orderDetail(app, o, { closeButton, onChanged }) {
  const readsCandidates = CANDIDATE_READERS.includes(app.user.role);

  function render() {
    const item = app.catalogue.items.get(o.item_code);
    const isOpen = ["received", "offered", "accepted", "in_service"].includes(o.status);
    const provider = h("span", o.provider_id ? `#${o.provider_id}` : "—");
    if (o.provider_id) app.providerName(o.provider_id).then((n) => (provider.textContent = n));
    const lastOffer = [...o.timeline].reverse().find((e) => e.action === "offer");
    const offered = h("span");
    if (o.status === "offered" && lastOffer?.data?.provider_id) {
      app.providerName(lastOffer.data.provider_id).then((n) => (offered.textContent = n));
    }
    const onDone = (result, action) => {
      if (action.verb === "notes") toast("内部备注已保存", { kind: "ok" });
      else if (result?.offer_id === null && result.supervisor_queue_reason)
        // Nobody could take it: the server put it in the supervisor queue instead of refusing.
        toast(`未能派出：${result.supervisor_queue_reason}。工单已转入督办派单队列`, { kind: "warn", ms: 10000 });
      else
        toast(`${action.label}：已完成（${STATUS_LABELS[result.status || result.order_status] || ""}）`, {
          kind: "ok",
        });
      if (action.verb === "check-in" && result.checkin_far)
        toast(`到场位置距工单地址 ${Math.round(result.checkin_distance_m)} 米，已标记为偏远签到`, {
          kind: "warn",
          ms: 10000,
        });
      onChanged();
    };
    return h(
      "div.detail",
      h("div.detail-head", closeButton, h("h2", o.number), orderBadges(o)),
      h(
        "dl.facts",
        h("dt", "服务事项"),
        h("dd", app.itemLabel(o.item_code), item?.home_visit === false ? h("span.muted", "（咨询）") : null),
        h("dt", "诉求"),
        h("dd.pre", o.description),
        o.resident
          ? [
              h("dt", "居民"),
              h("dd.resident-line", h("strong", o.resident.name || "（未留姓名）"), " ", tagChips(o.resident.tags)),
            ]
          : null,
        h("dt", "来电"),
        h(
          "dd",
          orderPhone(o),
          " ",
          h("span.muted", `${CHANNEL_LABELS[o.channel] || o.channel} · ${PRIORITY_LABELS[o.priority] || o.priority}`),
        ),
        h("dt", "地址"),
        h("dd", o.address || "—", o.lat == null ? h("span.warn.small", " 未定位") : null),
        h("dt", "受理时间"),
        h("dd", timeEl(o.created_at)),
        h("dt", { title: "sign_by" }, "签收时限"),
        h("dd", deadlineEl(o.sign_by, { open: o.status === "received" || o.status === "offered" })),
        h("dt", { title: "complete_by" }, "办结时限"),
        h("dd", deadlineEl(o.complete_by, { open: isOpen })),
        o.callback_due_at && o.status === "completed"
          ? [h("dt", { title: "callback_due_at" }, "回访时限"), h("dd", deadlineEl(o.callback_due_at))]
          : null,
        o.status === "offered" ? [h("dt", "待签收方"), h("dd", offered)] : null,
        o.provider_id && o.status !== "offered" ? [h("dt", "服务商"), h("dd", provider)] : null,
        o.supervisor_queue_reason ? [h("dt", "督办派单"), h("dd.warn", o.supervisor_queue_reason)] : null,
        o.return_count ? [h("dt", "退单次数"), h("dd", String(o.return_count))] : null,
        o.reopen_count ? [h("dt", "重办次数"), h("dd", String(o.reopen_count))] : null,
        o.possible_duplicate_of ? [h("dt", "可能重复"), h("dd.warn", o.possible_duplicate_of)] : null,
        o.checkin_distance_m != null
          ? [
              h("dt", "到场距离"),
              h("dd", `${Math.round(o.checkin_distance_m)} 米`, o.checkin_far ? h("span.late", "（偏远签到）") : null),
            ]
          : null,
        o.completion_note ? [h("dt", "办理情况"), h("dd.pre", o.completion_note)] : null,
        o.rating_stars ? [h("dt", "评价"), h("dd", stars(o.rating_stars))] : null,
      ),
      o.safety_notice ? h("div.safety", h("strong", "安全提示 "), o.safety_notice) : null,
      h("h3", "操作"),
      actionBar(o, onDone),
      readsCandidates && (o.status === "received" || o.status === "offered") ? candidatesBox(onDone) : null,
      h("h3", "时间线"),
      timeline(o.timeline),
    );
  }

  function candidatesBox(onDone) {
    const box = h("div.candidates");
    const mayDispatch = allows(o, "dispatch");
    const loadCandidates = async () => {
      clear(box, h("p.muted", "计算候选服务商…"));
      try {
        const { candidates, rejected = [] } = await api(`/api/v1/orders/${o.id}/candidates`, {
          query: { explain: true, limit: 8 },
        });
        clear(
          box,
          candidates.length
            ? h(
                "ol.candidate-list",
                candidates.map((c) => {
                  const error = h("span");
                  const pick = h(
                    "button.small",
                    { type: "button", title: `dispatch to provider ${c.provider_id}` },
                    "派给TA",
                  );
                  pick.addEventListener("click", async () => {
                    pick.disabled = true;
                    clear(error);
                    try {
                      onDone(await dispatchTo(o.id, c.provider_id), { label: "派单" });
                    } catch (err) {
                      clear(error, errorLine(err));
                      pick.disabled = false;
                    }
                  });
                  return h(
                    "li",
                    h("strong", c.name),
                    h(
                      "span.reasons",
                      c.reasons.map((r) => h("span.reason", r)),
                    ),
                    c.out_of_hours ? h("span.badge.queue", { title: "out of working hours" }, "非工作时间") : null,
                    mayDispatch ? pick : null,
                    error,
                  );
                }),
              )
            : h("p.warn", "没有符合条件的服务商"),
          rejected.length
            ? h(
                "details",
                h("summary", `附近未入选 (${rejected.length})`),
                h(
                  "ul.rejected",
                  rejected.map((r) =>
                    h(
                      "li",
                      h("span", r.name),
                      h("span.muted", `${r.distance_km.toFixed(1)} km`),
                      h("span.reason", r.reason),
                    ),
                  ),
                ),
              )
            : null,
        );
      } catch (err) {
        clear(box, errorLine(err));
      }
    };
    if (o.status === "received") loadCandidates();
    else box.append(h("button.ghost.small", { type: "button", onclick: loadCandidates }, "查看候选服务商"));
    return h("div", h("h3", { title: "candidates, best first, with reasons" }, "候选服务商"), box);
  }

  /** "operator:operator2" → "坐席 operator2", "provider:62" → its name, "sms:+86…" → "短信 138 …". */
  function actorEl(actor, providerId) {
    const [kind, name = ""] = actor.split(/:(.*)/s);
    const who = h("span.muted", { title: actor }, actorLabel(actor));
    if (kind === "provider") app.providerName(Number(name)).then((n) => (who.textContent = n));
    if (providerId != null) {
      const to = h("span", ` → 服务商 #${providerId}`);
      app.providerName(providerId).then((n) => (to.textContent = ` → ${n}`));
      who.append(to);
    }
    return who;
  }

  function timeline(entries) {
    return h(
      "ol.timeline",
      entries.map((e) => {
        // Unset facts (null, false) are noise in a timeline: only what happened is listed.
        const data = Object.entries(e.data || {}).filter(
          ([k, v]) => Object.hasOwn(DATA_LABELS, k) && v !== null && v !== "" && (v !== false || FALSE_MATTERS.has(k)),
        );
        const raw = e.data && Object.keys(e.data).length ? JSON.stringify(e.data) : null;
        const internal = e.action === "note" || e.data?.internal === true;
        return h(
          internal ? "li.internal" : "li",
          h(
            "div.tl-head",
            timeEl(e.at),
            h("strong", { title: e.action }, EVENT_LABELS[e.action] || e.action),
            internal ? h("span.badge.internal", { title: "仅工作人员可见" }, "内部") : null,
            e.to_status && e.to_status !== e.from_status ? statusBadge(e.to_status) : null,
            actorEl(e.actor, e.data?.provider_id ?? null),
          ),
          e.note ? h("div.tl-note", e.note) : null,
          data.length
            ? h(
                "div.tl-data.muted.small",
                { title: raw },
                data.map(([k, v]) => `${DATA_LABELS[k]}：${fmtValue(k, v)}`).join(" · "),
              )
            : null,
        );
      }),
    );
  }

  function fmtValue(key, value) {
    if (value === true) return "是";
    if (value === false) return "否";
    if (key === "complete_by") return new Date(value).toLocaleString("zh-CN", { hour12: false });
    if (key === "level") return { red: "红牌", yellow: "黄牌" }[value] || value;
    if (key === "channel") return CHANNEL_LABELS[value] || value;
    if (key === "priority") return PRIORITY_LABELS[value] || value;
    if (key === "item_code") return app.itemName(value);
    if (key === "mode") return MODE_LABELS[value] || value;
    if (key === "location") return LOCATION_LABELS[value] || value;
    if (key === "outcome") return RATING_OUTCOMES[value] || value;
    if (key === "stars") return `${value} 星`;
    if (key === "distance_km") return `${Number(value).toFixed(1)} km`;
    if (key === "distance_m") return `${Math.round(value)} 米`;
    if (key === "working_days") return `${value} 个工作日`;
    if (key.startsWith("minutes")) return fmtMinutes(value);
    if (typeof value === "number" && !Number.isInteger(value)) return String(Math.round(value * 100) / 100);
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  return render();
}
