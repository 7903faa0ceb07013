"""Every list of the console is one paged table: 上一页/下一页, the count line, rows that open."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import CONSOLE_TZ, LiveServer

ORDERS_PAGE = 25  # orders.js
ADMIN_PAGE = 50  # the paged table's default, used by the 管理 lists
CALLS_PAGE = 20  # supervisor.js


def count_line(first: int, last: int, total: int) -> str:
    return f"第 {first}–{last} 条，共 {total} 条"


def test_the_orders_list_pages_and_opens_an_order(page: Page, sign_in, live_server: LiveServer) -> None:
    total = live_server.api("supervisor", "GET", "/api/v1/orders", params={"limit": 1})["total"]
    assert total > 2 * ORDERS_PAGE, "the demo seed should have several pages of orders"
    second = live_server.api(
        "supervisor", "GET", "/api/v1/orders", params={"limit": ORDERS_PAGE, "offset": 25}
    )
    sign_in("supervisor")
    page.locator("#tabs .tab", has_text="工单").click()

    view = page.locator("section.view.orders")
    pager = view.locator(".pager")
    rows = view.locator("table.orders-table tbody tr[data-id]")
    expect(pager.locator(".muted")).to_have_text(count_line(1, ORDERS_PAGE, total))
    expect(rows).to_have_count(ORDERS_PAGE)
    expect(pager.get_by_role("button", name="‹ 上一页")).to_be_disabled()

    pager.get_by_role("button", name="下一页 ›").click()
    expect(pager.locator(".muted")).to_have_text(count_line(26, 2 * ORDERS_PAGE, total))
    expect(page).to_have_url(re.compile(r"#/orders\?.*offset=25"))
    expect(rows.first).to_have_attribute("data-id", str(second["items"][0]["id"]))
    expect(pager.get_by_role("button", name="‹ 上一页")).to_be_enabled()

    # A click opens the order beside the list; the page stays where it was.
    rows.first.locator("td").first.click()  # the number: 来电 holds 查看号码, a control of its own
    detail = view.locator(".detail-pane")
    expect(detail.locator("h2")).to_have_text(second["items"][0]["number"])
    expect(page).to_have_url(re.compile(rf"open={second['items'][0]['id']}"))
    expect(pager.locator(".muted")).to_have_text(count_line(26, 2 * ORDERS_PAGE, total))
    expect(rows.first).to_have_class(re.compile(r"\bselected\b"))

    # The keyboard: Enter on a focused row opens that one.
    rows.nth(1).focus()
    page.keyboard.press("Enter")
    expect(detail.locator("h2")).to_have_text(second["items"][1]["number"])

    detail.get_by_role("button", name="← 返回列表").click()
    expect(page).not_to_have_url(re.compile(r"open="))
    expect(pager.locator(".muted")).to_have_text(count_line(26, 2 * ORDERS_PAGE, total))
    pager.get_by_role("button", name="‹ 上一页").click()
    expect(pager.locator(".muted")).to_have_text(count_line(1, ORDERS_PAGE, total))


def test_an_offset_in_the_url_opens_that_page(page: Page, sign_in, live_server: LiveServer) -> None:
    total = live_server.api("operator1", "GET", "/api/v1/orders", params={"limit": 1})["total"]
    sign_in("operator1", "#/orders?offset=50")
    pager = page.locator("section.view.orders .pager")
    expect(pager.locator(".muted")).to_have_text(count_line(51, 75, total))


def test_the_accounts_list_pages(page: Page, sign_in, live_server: LiveServer) -> None:
    users = live_server.api("admin", "GET", "/api/v1/users", params={"limit": 1})["total"]
    for n in range(users, ADMIN_PAGE + 5):  # the demo has a handful: make a second page
        live_server.api(
            "admin",
            "POST",
            "/api/v1/users",
            json={"username": f"pager{n:02d}", "role": "operator", "password": "pager-pass-1"},
        )
    total = live_server.api("admin", "GET", "/api/v1/users", params={"limit": 1})["total"]
    assert total > ADMIN_PAGE
    sign_in("admin", "#/admin?section=users")

    section = page.locator(".admin-split.users")
    pager = section.locator(".pager")
    rows = section.locator("tbody tr[data-id]")
    expect(pager.locator(".muted")).to_have_text(count_line(1, ADMIN_PAGE, total))
    expect(rows).to_have_count(ADMIN_PAGE)
    pager.get_by_role("button", name="下一页 ›").click()
    expect(pager.locator(".muted")).to_have_text(count_line(ADMIN_PAGE + 1, total, total))
    expect(rows).to_have_count(total - ADMIN_PAGE)
    expect(pager.get_by_role("button", name="下一页 ›")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"section=users.*offset=50|offset=50.*section=users"))

    # A row opens the account's form.
    name = rows.first.locator("td").first.inner_text()
    rows.first.click()
    expect(section.locator(".detail-pane h2").first).to_have_text(name)

    # A filter starts again at the first page.
    found = live_server.api("admin", "GET", "/api/v1/users", params={"q": "pager0", "limit": 1})["total"]
    assert 0 < found < ADMIN_PAGE
    section.locator("input[name=q]").fill("pager0")
    section.locator("input[name=q]").press("Enter")
    expect(pager.locator(".muted")).to_have_text(count_line(1, found, found))
    expect(rows).to_have_count(found)
    expect(page).not_to_have_url(re.compile(r"offset="))


def test_the_calls_list_in_supervision_pages(page: Page, sign_in, live_server: LiveServer) -> None:
    # The last 7 days always hold a few days of the demo's calls (this month may have begun today).
    today = datetime.now(CONSOLE_TZ).date()
    week = {
        "from": datetime.combine(today - timedelta(days=6), time(), CONSOLE_TZ).isoformat(),
        "to": datetime.combine(today + timedelta(days=1), time(), CONSOLE_TZ).isoformat(),
    }
    total = live_server.api("supervisor", "GET", "/api/v1/calls", params={**week, "limit": 1})["total"]
    assert total > CALLS_PAGE, "the demo seed should have more than a page of calls in a week"
    sign_in("supervisor")
    page.get_by_role("combobox", name="时间段").select_option("7d")
    calls = page.locator("section.view.stats section.card", has_text="通话记录")
    pager = calls.locator(".pager")
    expect(pager.locator(".muted")).to_have_text(count_line(1, CALLS_PAGE, total))
    first = calls.locator("tbody tr").first.inner_text()
    pager.get_by_role("button", name="下一页 ›").click()
    expect(pager.locator(".muted")).to_have_text(count_line(21, min(40, total), total))
    expect(calls.locator("tbody tr").first).not_to_have_text(first)
    # A narrower filter starts again at the first page.
    calls.get_by_role("combobox", name="结果").select_option("abandoned")
    calls.get_by_role("button", name="筛选").click()
    expect(pager.locator(".muted")).to_have_text(re.compile(r"^(第 1–\d+ 条，共 \d+ 条|共 0 条)$"))
