"""回拨回访: a missed call is called back and closed with an outcome (or becomes an order), and a
completed order's rating callback is closed with one click."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import LiveServer, fresh_phone, masked, national
from tests.support.waiting import wait_until

CONSULTATION = "ERR-04"  # 代缴费用: answered on the phone, so it can be completed at once
PAGE = 25  # callbacks.js


def newest_callbacks(server: LiveServer, status: str = "open") -> list[dict[str, Any]]:
    """The newest callbacks of a list (open ones are listed oldest first, closed ones newest first)."""
    total = server.api("operator1", "GET", "/api/v1/callbacks", params={"status": status, "limit": 1})[
        "total"
    ]
    offset = max(0, total - 100) if status == "open" else 0
    params = {"status": status, "limit": 100, "offset": offset}
    return server.api("operator1", "GET", "/api/v1/callbacks", params=params)["items"]


def open_callback(server: LiveServer, phone: str) -> dict[str, Any]:
    """A missed call from ``phone``, and the callback it opened (with where the list shows it)."""
    server.unanswered(f"MISS-{uuid.uuid4().hex[:8]}", phone)
    found: list[dict[str, Any]] = []

    def opened() -> bool:  # the call is stored by the server's worker thread, after the 202
        # Numbers are masked (caller is null): the newest callback with this masked number.
        found[:] = [c for c in newest_callbacks(server) if c["caller_national"] == masked(phone)][-1:]
        return bool(found) and server.revealed(callback_id=found[0]["id"]) == f"+86{phone}"

    assert wait_until(opened, timeout=60, interval=0.1), f"no callback opened for {phone}"
    return found[0]


def page_showing(server: LiveServer, path: str, params: dict[str, str], record_id: int) -> int:
    """The offset of the console's page of a list (PAGE a page) that shows the record."""
    offset = 0
    while True:
        page = server.api("operator1", "GET", path, params={**params, "limit": 100, "offset": offset})
        ids = [item["id"] for item in page["items"]]
        if record_id in ids:
            return (offset + ids.index(record_id)) // PAGE * PAGE
        offset += 100
        assert offset < page["total"], f"{record_id} is not in {path} {params}"


def test_a_missed_call_is_called_back_and_closed(page: Page, sign_in, live_server: LiveServer) -> None:
    phone = fresh_phone()
    callback = open_callback(live_server, phone)
    at = page_showing(live_server, "/api/v1/callbacks", {"status": "open"}, callback["id"])
    sign_in("operator1", f"#/callbacks?offset={at}")
    view = page.locator("section.view.callbacks")
    row = view.locator("table.callbacks-table tbody tr", has_text=masked(phone))
    expect(row).to_contain_text("未接来电")
    expect(row).to_contain_text("未回拨")
    expect(page.locator("#tabs .tab-count")).to_have_text(re.compile(r"^\d+$"))

    # One click calls back: the callback opens beside the list with what the call did.
    row.get_by_role("button", name="回拨").click()
    detail = view.locator(".detail-pane")
    expect(detail.locator("h2")).to_have_text(masked(phone))
    expect(detail.locator(".call-result")).to_be_visible()
    expect(row).to_contain_text("1 次")
    # 多次未接通 waits for three attempts.
    expect(detail.get_by_role("button", name="多次未接通")).to_be_disabled()

    detail.get_by_role("button", name="咨询已答复").click()
    detail.locator(".outcome-form input[name=note]").fill("已电话答复缴费方式")
    detail.get_by_role("button", name="确认：咨询已答复").click()
    expect(page.locator("#toasts")).to_contain_text("已结案（咨询已答复）")
    expect(row).to_have_count(0)

    closed = live_server.api(
        "operator1", "GET", "/api/v1/callbacks", params={"status": "closed", "limit": 200}
    )
    mine = next(c for c in closed["items"] if c["id"] == callback["id"])
    assert mine["outcome"] == "answered" and mine["attempts"] == 1 and mine["note"] == "已电话答复缴费方式"


def test_a_callback_becomes_an_order(page: Page, sign_in, live_server: LiveServer) -> None:
    phone = fresh_phone()
    callback = open_callback(live_server, phone)
    at = page_showing(live_server, "/api/v1/callbacks", {"status": "open"}, callback["id"])
    sign_in("operator1", f"#/callbacks?offset={at}&open={callback['id']}")
    detail = page.locator("section.view.callbacks .detail-pane")
    expect(detail.locator("h2")).to_have_text(masked(phone))

    # 生成工单 takes the operator to the form, filled in for the caller and tied to the callback.
    detail.get_by_role("button", name="生成工单").click()
    form = page.locator("section.view.desk section.intake form")
    expect(form.locator("input[name=caller_phone]")).to_have_value(national(phone))
    expect(form.locator(".call-link")).to_contain_text("回拨：未接来电，提交后结案")
    form.locator("textarea[name=description]").fill("回拨后居民说想咨询水电费怎么代缴")
    form.locator("select[name=item_code]").select_option(CONSULTATION)
    form.locator("button[type=submit]").click()
    number = page.locator("section.view.desk section.created .number")
    expect(number).to_be_visible()

    closed = live_server.api(
        "operator1", "GET", "/api/v1/callbacks", params={"status": "closed", "limit": 200}
    )
    mine = next(c for c in closed["items"] if c["id"] == callback["id"])
    assert mine["outcome"] == "order" and mine["order_number"] == number.inner_text()


def completed_consultation(server: LiveServer) -> dict[str, Any]:
    order = server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": fresh_phone(),
            "resident_name": "回访测试",
            "description": "咨询水电费代缴",
            "item_code": CONSULTATION,
            "channel": "phone",
        },
    )
    server.api("operator1", "POST", f"/api/v1/orders/{order['id']}/complete", json={"note": "已答复代缴方式"})
    return order


def rating_row(page: Page, server: LiveServer, order: dict[str, Any]) -> Locator:
    """The order's row in 待回访 (on the page that lists it: soonest due first)."""
    at = page_showing(server, "/api/v1/orders", {"queue": "callback"}, order["id"])
    page.evaluate(f"location.hash = '#/callbacks?list=rating&offset={at}'")
    view = page.locator("section.view.callbacks")
    expect(view.locator(".worklist-nav [aria-selected=true]")).to_contain_text("待回访")
    return view.locator("table.ratings-table tbody tr", has_text=order["number"])


def test_the_rating_callback_is_closed_with_a_star(page: Page, sign_in, live_server: LiveServer) -> None:
    happy, unhappy = completed_consultation(live_server), completed_consultation(live_server)
    sign_in("operator1")

    row = rating_row(page, live_server, happy)
    row.get_by_role("button", name="5 星 非常满意").click()
    expect(page.locator("#toasts")).to_contain_text(f"{happy['number']} 回访：5 星（非常满意）")
    expect(row).to_have_count(0)
    assert live_server.api("operator1", "GET", f"/api/v1/orders/{happy['id']}")["rating_stars"] == 5

    # 1–2 星 asks whether the resident wants the work done again.
    row = rating_row(page, live_server, unhappy)
    row.get_by_role("button", name="2 星 不满意").click()
    expect(row).to_contain_text("居民要求重办吗？")
    row.get_by_role("button", name="评价并重办").click()
    expect(page.locator("#toasts")).to_contain_text(f"{unhappy['number']} 回访：2 星（不满意），已重办")
    reopened = live_server.api("operator1", "GET", f"/api/v1/orders/{unhappy['id']}")
    assert reopened["status"] == "received" and reopened["reopen_count"] == 1
