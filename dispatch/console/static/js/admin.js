// 管理 (administration): staff accounts, service providers, the working-day calendar, the
// service catalogue, the sign-in records, the access trail of residents' personal data
// (访问记录), messages whose outcome is unknown and the Open311 API keys (开放接口). Admins get
// every section; organisation admins get the providers section, scoped by the server to their
// organisation and its workers. The server has the last word on who may do what: this view only
// leaves out what a role cannot do, and shows refusals next to the form. Section, filters and the
// open record live in the URL (#/admin?section=providers&status=suspended&open=12).

import { clear, h } from "./ui.js";
import { usersSection } from "./admin-users.js";
import { providersSection } from "./admin-providers.js";
import { calendarSection } from "./admin-calendar.js";
import { catalogueSection } from "./admin-catalogue.js";
import { attemptsSection } from "./admin-attempts.js";
import { auditSection } from "./admin-audit.js";
import { outboxSection } from "./admin-outbox.js";
import { open311Section } from "./admin-open311.js";

const SECTIONS = [
  { key: "users", label: "账号", en: "Staff accounts", roles: ["admin"], build: usersSection },
  {
    key: "providers",
    label: "服务方",
    en: "Organisations and workers",
    roles: ["admin", "org_admin"],
    build: providersSection,
  },
  { key: "calendar", label: "工作日历", en: "Working-day calendar", roles: ["admin"], build: calendarSection },
  { key: "catalogue", label: "服务目录", en: "Service catalogue", roles: ["admin"], build: catalogueSection },
  { key: "attempts", label: "登录记录", en: "Sign-in attempts", roles: ["admin"], build: attemptsSection },
  { key: "audit", label: "访问记录", en: "Access trail of personal data", roles: ["admin"], build: auditSection },
  {
    key: "outbox",
    label: "待确认消息",
    en: "Messages whose outcome is unknown; call events that kept failing",
    roles: ["admin"],
    build: outboxSection,
  },
  {
    key: "open311",
    label: "开放接口",
    en: "Open311: API keys of other applications, and their requests waiting for an address",
    roles: ["admin"],
    build: open311Section,
  },
];

export function create(app) {
  const sections = SECTIONS.filter((s) => s.roles.includes(app.user.role));
  const built = {};
  const nav = h("div.segmented.admin-nav", { role: "tablist" });
  const el = h("section.view.admin", sections.length > 1 ? nav : null);

  function renderNav(current) {
    clear(
      nav,
      sections.map((s) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            title: s.en,
            "aria-selected": String(s.key === current),
            onclick: () => app.go("admin", { section: s.key }),
          },
          s.label,
        ),
      ),
    );
  }

  return {
    el,
    show(params) {
      const section = sections.find((s) => s.key === params.section) || sections[0];
      renderNav(section.key);
      if (!built[section.key]) {
        const go = (next) => app.go("admin", { ...next, section: section.key });
        built[section.key] = section.build(app, go);
        el.append(built[section.key].el);
      }
      for (const [key, part] of Object.entries(built)) part.el.hidden = key !== section.key;
      built[section.key].show(params);
    },
  };
}
