"""定期探访 in the console: a supervisor creates a care visit plan under 督办 — the resident and the
visitor found by searching, not typed as ids — sees it listed (the resident by surname only), pauses
it, and sees the month's coverage table with its Chinese headers."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, fresh_phone


def test_a_supervisor_creates_a_plan_and_sees_coverage(
    page: Page, sign_in: Callable[..., Page], live_server: LiveServer
) -> None:
    phone = fresh_phone()
    order = live_server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": phone,
            "resident_name": "欧阳秀兰",
            "description": "想咨询老年人助餐政策",
            "channel": "phone",
        },
    )
    resident_id = live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}")["resident_id"]
    live_server.api("supervisor", "PATCH", f"/api/v1/residents/{resident_id}", json={"tags": ["独居老人"]})
    visitor = live_server.api("supervisor", "GET", "/api/v1/providers", params={"limit": 1})["items"][0]

    sign_in("supervisor")
    page.locator("#tabs .tab", has_text="督办").click()
    view = page.locator("section.view.stats .visits")
    form = view.locator("form.visit-plan-form")
    expect(form.get_by_label("计划类型")).to_contain_text("独居空巢老人探访")
    # Nothing picked yet: the form says what is missing and sends nothing.
    form.get_by_role("button", name="新建探访计划").click()
    expect(form).to_contain_text("请先搜索并选择居民")

    # The resident by name (the registry's search), then by number: the same one, tags shown.
    residents = form.get_by_role("list", name="居民搜索结果")
    form.get_by_role("searchbox", name="居民").fill("欧阳秀兰")
    match = residents.get_by_role("button", name=re.compile("欧阳秀兰"))
    expect(match).to_contain_text("独居老人")
    form.get_by_role("searchbox", name="居民").fill(phone)
    expect(residents.get_by_role("button")).to_have_count(1)
    match.click()
    expect(form.locator(".picker-chosen").first).to_contain_text("欧阳秀兰")
    expect(form.get_by_role("searchbox", name="居民")).to_be_hidden()
    form.get_by_label("计划类型").select_option("elderly")
    form.get_by_label("探访频次").select_option("biweekly")
    form.get_by_role("searchbox", name="探访人").fill(visitor["name"])
    form.get_by_role("list", name="探访人搜索结果").get_by_role(
        "button", name=re.compile(re.escape(visitor["name"]))
    ).first.click()
    expect(form.locator(".picker-chosen").nth(1)).to_contain_text(visitor["name"])
    form.get_by_role("button", name="新建探访计划").click()

    row = view.locator(".visit-plans-table tbody tr", has_text="欧***")
    expect(row).to_contain_text("独居空巢老人探访")
    expect(row).to_contain_text("每两周")
    expect(row).to_contain_text("进行中")
    expect(row).not_to_contain_text("欧阳秀兰")  # a list shows the surname only

    coverage = view.locator("table.visit-coverage").first
    expect(coverage.locator("thead th")).to_have_text(
        ["社区", "应探访", "已探访", "逾期未探访", "待探访", "未遇次数"]
    )
    expect(coverage.locator("tfoot")).to_contain_text("合计")

    row.get_by_role("button", name="暂停").click()
    expect(row).to_contain_text("已暂停")
    plans = live_server.api("supervisor", "GET", "/api/v1/visit-plans", params={"resident_id": resident_id})
    assert [(p["active"], p["provider_id"]) for p in plans["items"]] == [(False, visitor["id"])]
