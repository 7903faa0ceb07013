"""Every tab of every demo role loads its data without a JavaScript error (the harness fails a test
on any uncaught exception or console error)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import DEMO_USERS

TAB_LABELS = {
    "坐席": "desk",
    "回拨回访": "callbacks",
    "工单": "orders",
    "督办": "stats",
    "我的工单": "mine",
    "星级评价": "league-view",
    "上门登记": "visit-intake",
    "管理": "admin",
}
EXPECTED_TABS = {
    "admin": ["督办", "工单", "回拨回访", "坐席", "上门登记", "管理"],
    "supervisor": ["督办", "工单", "回拨回访", "坐席", "上门登记"],
    "operator1": ["坐席", "回拨回访", "工单", "督办", "上门登记"],
    "operator2": ["坐席", "回拨回访", "工单", "督办", "上门登记"],
    "orgadmin": ["我的工单", "星级评价", "上门登记", "管理"],
    "worker": ["我的工单", "上门登记"],
}
COUNT_LINE = re.compile(r"^(第 \d+–\d+ 条，共 \d+ 条|共 \d+ 条)$")
ADMIN_SECTIONS = {"admin": ["账号", "服务方", "工作日历", "服务目录", "访问记录"], "orgadmin": []}


def loaded(table: Locator) -> None:
    """A paged table has shown its first answer: a count line and no load under way."""
    expect(table.locator(".pager .muted")).to_have_text(COUNT_LINE)
    expect(table).not_to_have_attribute("aria-busy", "true")


def visit(page: Page, view: str) -> None:
    el = page.locator(f"section.view.{view}")
    expect(el).to_be_visible()
    if view == "desk":
        expect(el.locator(".pop h2")).to_be_visible()
        expect(el.locator(".call-list li").first).to_be_visible()
    elif view == "orders":
        loaded(el.locator(".paged-table"))
        # The order number's cell: the row's 来电 cell holds 查看号码, a control of its own.
        el.locator("tbody tr[data-id]").first.locator("td").first.click()
        detail = el.locator(".detail-pane")
        expect(detail.locator("ol.timeline li").first).to_be_visible()
        expect(detail.locator(".candidates, h3").first).to_be_visible()
    elif view == "callbacks":
        for name in ("待回拨", "待回访", "已结案回拨"):
            el.locator(".worklist-nav").get_by_role("tab", name=re.compile(f"^{name}")).click()
            loaded(el.locator(".paged-table"))
    elif view == "stats":
        # 红牌 黄牌 超时 督办派单 待派单 待签收, and the worklists 待回拨 待回访
        expect(el.locator(".watch .tile")).to_have_count(8)
        expect(el.locator(".watch .tile-value", has_text="?")).to_have_count(0)
        expect(el.locator(".kpis")).not_to_contain_text("计算中")
        expect(el.locator('.dashboard .chart-card[data-ready="true"]')).to_have_count(5)
        loaded(el.locator(".paged-table").first)  # the calls of the period
        loaded(el.locator(".visits .paged-table"))  # 定期探访: the plans
    elif view == "league-view":
        expect(el.locator(".league table.league-table, .league .empty").first).to_be_visible()
    elif view == "mine":
        expect(el.locator(".cards > *").first).to_be_visible()
    elif view == "visit-intake":  # every role the API lets file a home-visit request
        expect(el.locator("form.visit-form")).to_be_visible()
        expect(el.locator(".conn")).to_have_attribute("data-state", "online")
    elif view == "admin":
        expect(el.locator(".paged-table, .cal-grid, .catalogue-table").first).to_be_visible()


def visit_admin_section(page: Page, label: str) -> None:
    view = page.locator("section.view.admin")
    view.locator(".admin-nav").get_by_role("tab", name=label).click()
    if label in ("账号", "服务方"):
        section = view.locator(".admin-split.users" if label == "账号" else ".admin-split.providers")
        loaded(section.locator(".paged-table"))
        section.locator("tbody tr[data-id]").first.click()
        expect(section.locator(".detail-pane form").first).to_be_visible()
    elif label == "访问记录":
        loaded(view.locator("section.audit .paged-table"))
        expect(view.locator("section.audit tbody tr").first).to_be_visible()
    elif label == "工作日历":
        expect(view.locator(".cal-grid > *").first).to_be_visible()
    else:
        expect(view.locator(".catalogue-table tbody tr[data-id]").first).to_be_visible()


@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_tab_loads_without_errors(page: Page, sign_in, username: str) -> None:
    sign_in(username)
    tabs = page.locator("#tabs .tab")
    expect(tabs.locator(".tab-label")).to_have_text(EXPECTED_TABS[username])
    for label in EXPECTED_TABS[username]:
        tabs.filter(has_text=label).click()
        expect(tabs.filter(has_text=label)).to_have_attribute("aria-current", "page")
        visit(page, TAB_LABELS[label])
        if label == "管理":
            for section in ADMIN_SECTIONS[username]:
                visit_admin_section(page, section)
            if username == "orgadmin":  # one section, no nav: their organisation's providers
                section = page.locator(".admin-split.providers")
                loaded(section.locator(".paged-table"))
                section.locator("tbody tr[data-id]").first.click()
                expect(section.locator(".detail-pane form").first).to_be_visible()
