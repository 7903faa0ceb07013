// How far the working-day calendar follows the State Council's published holidays
// (GET /api/v1/calendar/coverage). Admins and supervisors get a banner under the top bar from 60 days
// before the end, refreshed on sign-in and when the tracking loop's daily calendar_coverage
// notification arrives; 管理 › 工作日历 shows the same line and refreshes the banner after its changes.

import { api } from "./api.js";
import { clear, h } from "./ui.js";

export const COVERAGE_KIND = "calendar_coverage";
const BANNER_ROLES = ["admin", "supervisor"];

/** "剩余 27 天" / "今天是最后一天" / "已超出 5 天". */
export function daysLeftText(cov) {
  if (cov.days_left > 0) return `剩余 ${cov.days_left} 天`;
  if (cov.days_left === 0) return "今天是最后一天";
  return `已超出 ${-cov.days_left} 天`;
}

/** "已录入官方安排至 2026-12-31，剩余 27 天". */
export function coverageText(cov) {
  return `已录入官方安排至 ${cov.official_until}，${daysLeftText(cov)}`;
}

/** Fill el (the banner under the top bar) for this session; app.refreshCoverage() reloads it. */
export function watchCoverage(app, el) {
  clear(el);
  el.hidden = true;
  app.refreshCoverage = async () => null;
  if (!BANNER_ROLES.includes(app.user.role)) return;

  let abort = null;
  async function refresh() {
    abort?.abort();
    abort = new AbortController();
    try {
      const cov = await api("/api/v1/calendar/coverage", { signal: abort.signal });
      render(cov);
      return cov;
    } catch {
      return null; // a banner that cannot load stays as it was; the section shows the error
    }
  }

  function render(cov) {
    el.hidden = !cov.warning;
    if (!cov.warning) return clear(el);
    clear(
      el,
      h("strong", `工作日历${cov.days_left < 0 ? "已超出官方安排" : "即将到期"}（${daysLeftText(cov)}）`),
      h("span", cov.warning),
      app.user.role === "admin"
        ? h("a", { href: "#/admin?section=calendar", title: "管理 › 工作日历" }, "前往 管理 › 工作日历 录入")
        : null,
    );
  }

  app.refreshCoverage = refresh;
  app.on("notification", (n) => {
    if (n.kind === COVERAGE_KIND) refresh();
  });
  refresh();
}
