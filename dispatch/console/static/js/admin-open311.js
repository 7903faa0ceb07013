// 管理 › 开放接口 (admins only): the API keys of the applications that file requests over Open311
// GeoReport v2 (/open311/v2/: a city's 12345 platform, a WeChat mini-program). Issue a key to a
// named application — shown once, with a copy button: only its hash is kept —, see each key's
// uses (every request made with it), revoke one (403 from then on). Below, the requests those
// applications filed that could not become orders at once (the address was not found): the call
// centre finds the place and makes the order, or turns the request down.

import { api } from "./api.js";
import { actionButton as kitButton, field, onSubmit } from "./admin-kit.js";
import { pagedTable } from "./paged-table.js";
import { clear, errorText, h, timeEl, toast } from "./ui.js";

// dispatch/open311/keys.py's operations.
const OPERATIONS = {
  post_request: "提交请求",
  get_services: "查询服务目录",
  get_service: "查询服务定义",
  get_requests: "查询请求列表",
  get_request: "查询单个请求",
  get_token: "查询 token",
};

// The keys' and requests' buttons are the small kind.
const actionButton = (label, title, run) => kitButton(label, title, run, "button.small");

export function open311Section() {
  const issuedBox = h("div.open311-issued", { hidden: true });
  const usesBox = h("div.open311-uses");
  let usesOf = null;

  function showIssued(key) {
    const secret = h("code.open311-key", key.key);
    const copy = h("button.primary", { type: "button" }, "复制密钥");
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(key.key);
        copy.textContent = "已复制";
      } catch {
        // No clipboard (an insecure origin): select the key so Ctrl+C copies it.
        getSelection().selectAllChildren(secret);
        copy.textContent = "请按 Ctrl+C 复制";
      }
    });
    clear(
      issuedBox,
      h("h3", `已为「${key.name}」签发接口密钥`),
      h("p.hint", "密钥只显示这一次，系统只保存其摘要；请立即复制并交给对方应用，丢失后只能吊销并重新签发。"),
      h("div.row", secret, copy),
    );
    issuedBox.hidden = false;
  }

  const f = {
    name: h("input", { name: "name", required: true, maxLength: 100, autocomplete: "off" }),
    contact: h("input", { name: "contact", maxLength: 200, autocomplete: "off" }),
    rate: h("input", { name: "rate_per_minute", type: "number", min: 1, max: 10000, step: 1 }),
  };
  const errorBox = h("div.form-error");
  const form = h(
    "form.admin-form.open311-issue",
    { autocomplete: "off" },
    h("h2", { title: "POST /api/v1/open311/keys" }, "签发接口密钥"),
    h(
      "div.grid2",
      field("应用名称", f.name, "如：某区 12345 热线平台、某街道微信小程序"),
      field("联系人", f.contact, "对方负责人及电话，便于联系"),
    ),
    field("每分钟请求上限", f.rate, "留空则用系统默认值（[open311] rate_per_minute）"),
    h("div.row", h("button.primary", { type: "submit" }, "签发")),
    errorBox,
  );
  onSubmit(form, errorBox, {
    save: async () => {
      const key = await api("/api/v1/open311/keys", {
        body: {
          name: f.name.value.trim(),
          contact: f.contact.value.trim(),
          rate_per_minute: f.rate.value ? Number(f.rate.value) : null,
        },
      });
      form.reset();
      showIssued(key);
      await keys.load(0);
    },
  });

  const useCells = (u) => [
    h("td.nowrap", timeEl(u.at)),
    h("td", OPERATIONS[u.operation] || u.operation),
    h("td.nowrap", h(u.status < 400 ? "span.badge.on" : "span.badge.off", String(u.status))),
    h("td", u.reference || h("span.muted", "—")),
    h("td.nowrap", u.client_address),
  ];

  // The uses of one key, newest first: a paged table of its own (the path names the key).
  function showUses(key) {
    usesOf = key;
    const table = pagedTable({
      path: `/api/v1/open311/keys/${key.id}/uses`,
      columns: ["时间", "操作", "结果", "工单号 / token", "来源地址"],
      cells: useCells,
      emptyText: "这个密钥还没有使用记录",
      className: ".admin-table.open311-uses",
    });
    clear(usesBox, h("h3", { title: `GET /api/v1/open311/keys/${key.id}/uses` }, `「${key.name}」的使用记录`), table.el);
    return table.load(0);
  }

  const keys = pagedTable({
    path: "/api/v1/open311/keys",
    columns: ["应用", "联系人", "密钥前缀", "每分钟上限", "签发时间", "最近使用", "使用次数", "状态", "操作"],
    emptyText: "还没有签发接口密钥",
    className: ".admin-table.open311-keys",
    cells: (k) => [
      h("td", k.name),
      h("td", k.contact || h("span.muted", "—")),
      h("td.nowrap", h("code", `${k.prefix}…`)),
      h("td.nowrap", k.rate_per_minute ? String(k.rate_per_minute) : h("span.muted", "默认")),
      h("td.nowrap", timeEl(k.created_at)),
      h("td.nowrap", k.last_used_at ? timeEl(k.last_used_at) : h("span.muted", "未使用")),
      h("td.nowrap", String(k.uses)),
      h("td.nowrap", k.revoked_at ? h("span.badge.off", "已吊销") : h("span.badge.on", "有效")),
      h(
        "td.nowrap",
        actionButton("使用记录", `GET /api/v1/open311/keys/${k.id}/uses`, async () => showUses(k)),
        " ",
        k.revoked_at
          ? null
          : actionButton("吊销", `DELETE /api/v1/open311/keys/${k.id}：此后该密钥的请求一律拒绝`, async () => {
              if (!confirm(`吊销「${k.name}」的接口密钥？对方应用将无法再提交或查询。`)) return;
              await api(`/api/v1/open311/keys/${k.id}`, { method: "DELETE" });
              toast(`「${k.name}」的接口密钥已吊销`, { kind: "ok" });
              await keys.refresh();
              if (usesOf?.id === k.id) await showUses(k);
            }),
      ),
    ],
  });

  const pending = pagedTable({
    path: "/api/v1/open311/pending",
    columns: ["提交时间", "应用", "服务", "诉求描述", "所报地址", "电话", "处理"],
    emptyText: "没有待核实的开放接口请求",
    className: ".admin-table.open311-pending",
    cells: (p) => [
      h("td.nowrap", timeEl(p.created_at)),
      h("td", p.application),
      h("td", `${p.service_name}（${p.service_code}）`),
      h("td", p.description),
      h("td", p.address || h("span.muted", "—")),
      h("td.nowrap", p.phone),
      h("td", pendingForm(p)),
    ],
  });

  // Turn one waiting request into an order at the place found, or turn it down.
  function pendingForm(p) {
    const address = h("input", { name: "address", value: p.address || "", maxLength: 300, "aria-label": "核实后的地址" });
    const box = h("div.form-error");
    const done = async (text) => {
      toast(text, { kind: "ok" });
      await pending.refresh();
    };
    return h(
      "div.row",
      address,
      actionButton("转为工单", `POST /api/v1/open311/pending/${p.id}/accept`, async () => {
        clear(box);
        try {
          const made = await api(`/api/v1/open311/pending/${p.id}/accept`, { body: { address: address.value.trim() } });
          await done(`已转为工单 ${made.number}`);
        } catch (err) {
          clear(box, errorText(err));
        }
      }),
      actionButton("不受理", `POST /api/v1/open311/pending/${p.id}/reject`, async () => {
        const reason = prompt("不受理的原因（对方应用只会看到“未受理”）");
        if (!reason?.trim()) return;
        await api(`/api/v1/open311/pending/${p.id}/reject`, { body: { reason: reason.trim() } });
        await done("已标记为不受理");
      }),
      box,
    );
  }

  const el = h(
    "section.card.admin-open311",
    form,
    issuedBox,
    h("h2", { title: "GET /api/v1/open311/keys" }, "接口密钥"),
    h(
      "p.hint",
      "对方应用按 Open311 GeoReport v2 访问 /open311/v2/（需在配置中开启 [open311] enabled）；提交请求须带 api_key，查询无需密钥、不含居民姓名电话和详细地址。",
    ),
    keys.el,
    usesBox,
    h("h2", { title: "GET /api/v1/open311/pending" }, "待核实的请求"),
    h("p.hint", "地址无法自动定位的请求暂不成单，对方应用拿到的是 token；核实地址后转为工单，token 即可查到工单号。"),
    pending.el,
  );

  return {
    el,
    show() {
      keys.load(0);
      pending.load(0);
    },
  };
}
