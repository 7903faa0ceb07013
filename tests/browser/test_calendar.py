"""Keeping the working-day calendar current, in the console: the coverage warning under the top bar
and a holiday period set in one form.

The live server runs on the real date with the calendar ``sanshe migrate`` seeds from
chinese-calendar 1.11, official until 2026-12-31: from 2026-11-01 on the warning shows by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.factories import SPRING_2027_DAYS

SPRING_2027 = SPRING_2027_DAYS


def coverage(server: LiveServer) -> dict:
    cov = server.api("admin", "GET", "/api/v1/calendar/coverage")
    assert cov["warning"], f"the live server's calendar is not within 60 days of its end: {cov}"
    return cov


def days_left_text(cov: dict) -> str:
    return f"剩余 {cov['days_left']} 天" if cov["days_left"] > 0 else "今天是最后一天"


@pytest.fixture
def year_2027_unconfirmed(live_server: LiveServer) -> Iterator[None]:
    """Whatever a test confirms, the other tests find 2027 not confirmed again."""
    yield
    live_server.api("admin", "DELETE", "/api/v1/calendar/years/2027")


def test_admins_see_the_calendar_coverage_warning(
    page: Page, sign_in: Callable[..., Page], live_server
) -> None:
    cov = coverage(live_server)
    sign_in("admin")
    banner = page.locator("#coverage")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"工作日历即将到期（{days_left_text(cov)}）")
    expect(banner).to_contain_text(cov["warning"])
    banner.get_by_role("link", name="前往 管理 › 工作日历 录入").click()
    section = page.locator("section.view.admin .admin-cal")
    expect(section.locator(".cal-coverage")).to_contain_text(
        f"已录入官方安排至 {cov['official_until']}，{days_left_text(cov)}"
    )
    next_year = int(cov["official_until"][:4]) + 1
    expect(section.locator(f'.cal-years tr[data-year="{next_year}"]')).to_contain_text("未确认")


@pytest.mark.parametrize(("user", "shown"), [("supervisor", True), ("operator1", False)])
def test_supervisors_see_it_too_and_operators_do_not(
    page: Page, sign_in: Callable[..., Page], live_server, user: str, shown: bool
) -> None:
    cov = coverage(live_server)
    sign_in(user)
    banner = page.locator("#coverage")
    if shown:
        expect(banner).to_contain_text(cov["warning"])
        expect(banner.get_by_role("link")).to_have_count(0)  # 管理 is for admins
    else:
        # The tabs are up: the banner would have been filled by now for a role that gets it.
        expect(page.locator("section.view").first).to_be_visible()
        expect(banner).to_be_hidden()


def test_a_holiday_period_is_set_in_one_form(
    page: Page, sign_in: Callable[..., Page], live_server: LiveServer, year_2027_unconfirmed: None
) -> None:
    cov = coverage(live_server)
    sign_in("admin", "#/admin?section=calendar")
    section = page.locator("section.view.admin .admin-cal")
    form = section.locator("form.cal-period")
    form.get_by_label("名称").fill("春节")
    form.get_by_label("放假开始").fill("2027-02-06")
    form.get_by_label("放假结束").fill("2027-02-12")
    for day in ("2027-02-14", "2027-02-20"):
        form.get_by_label("调休上班日", exact=True).fill(day)
        form.get_by_role("button", name="添加调休日").click()
        expect(form.locator(".cal-workdays .chip", has_text=day)).to_be_visible()
    form.get_by_role("button", name="保存节假日").click()
    expect(page.locator("#toasts")).to_contain_text("已设置春节：放假 7 天，调休上班 2 天")

    # The month view moves to February 2027 and shows the days off and the make-up days.
    expect(section.locator("input[type=month]")).to_have_value("2027-02")
    grid = section.locator(".cal-grid")
    for day, working, name in SPRING_2027:
        cell = grid.locator(f'button[title^="{day} "]')
        expect(cell).to_have_attribute("title", f"{day} {'工作日' if working else '休息日'} · {name}")
        expect(cell).to_contain_text(name)
    expect(grid.locator('button[title^="2027-02-08 "]')).to_have_class("cal-cell holiday pinned")
    expect(grid.locator('button[title^="2027-02-14 "]')).to_have_class("cal-cell makeup pinned")
    expect(form.locator(".cal-workdays")).to_contain_text("没有调休上班日")  # the form is ready for the next

    listed = live_server.api(
        "admin", "GET", "/api/v1/calendar", params={"from": "2027-02-01", "to": "2027-02-28"}
    )
    assert [(d["day"], d["is_workday"], d["name"]) for d in listed["items"]] == SPRING_2027
    assert {d["source"] for d in listed["items"]} == {"manual"}

    # With its holidays entered, 2027 can be confirmed: the calendar is official through 2027 and
    # the warning goes; taking it back brings the warning back.
    row = section.locator('.cal-years tr[data-year="2027"]')
    row.get_by_role("button", name="确认已录入完整").click()
    expect(section.locator(".cal-coverage")).to_contain_text("已录入官方安排至 2027-12-31")
    expect(row).to_contain_text("已确认")
    expect(page.locator("#coverage")).to_be_hidden()
    row.get_by_role("button", name="撤销确认").click()
    expect(section.locator(".cal-coverage")).to_contain_text(f"已录入官方安排至 {cov['official_until']}")
    expect(page.locator("#coverage")).to_contain_text(cov["warning"])
