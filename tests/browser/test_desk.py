"""The operator desk by keyboard alone: a screen pop becomes an order without the mouse, and the
operator, not the first suggestion, decides the item."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, fresh_phone, masked, national


def test_a_screen_pop_becomes_an_order_by_keyboard_only(page: Page, sign_in, live_server: LiveServer) -> None:
    sign_in("operator1")  # extension 1001
    desk = page.locator("section.view.desk")
    expect(desk.locator(".pop h2")).to_have_text("来电弹屏")

    phone = fresh_phone()
    call = f"KEYS-{uuid.uuid4().hex[:8]}"
    live_server.ring(call, phone, "1001")

    # The pop names the caller (national format) and the form takes the call: focus is in the
    # description, the caller's number filled in.
    expect(desk.locator(".pop .caller")).to_have_text(national(phone))
    form = desk.locator("section.intake form")
    expect(form.locator("input[name=caller_phone]")).to_have_value(national(phone))
    description = form.locator("textarea[name=description]")
    expect(description).to_be_focused()

    page.keyboard.type("家里厨房的水管漏水了，地上都是水")
    chips = form.locator(".suggestions button.suggestion")
    expect(chips.first).to_be_visible()
    # Nothing is chosen for the operator: the first suggestion is a suggestion, not a choice.
    expect(form.locator(".suggestions button.suggestion.chosen")).to_have_count(0)
    submit = form.locator("button[type=submit]")
    expect(submit).to_have_text("提交工单")

    # Ctrl+Enter without an item is refused, with the way to choose one.
    page.keyboard.press("Control+Enter")
    expect(form.locator(".form-error")).to_contain_text("请先确认服务事项")

    # Back to the description, Alt+1 takes the first suggestion; the button names the item.
    description.focus()  # focus() is what Shift+Tab would do; it is not a click
    page.keyboard.press("Alt+1")
    expect(chips.first).to_have_attribute("aria-pressed", "true")
    code = chips.first.get_attribute("data-code")
    expect(submit).to_have_text(re.compile(r"^提交：\S+·\S+$"))

    page.keyboard.press("Control+Enter")
    created = desk.locator("section.created")
    expect(created.locator(".number")).to_have_text(re.compile(r"^\d{8}-\d{4}$"))
    number = created.locator(".number").inner_text()

    order = live_server.api("operator1", "GET", "/api/v1/orders", params={"number": number})["items"][0]
    # Lists show the number masked; the whole one is the caller's (asked for as an operator would).
    assert order["item_code"] == code and order["caller_phone_national"] == masked(phone)
    assert live_server.revealed(order_id=order["id"]) == f"+86{phone}"

    # 新建下一单 has the focus: Enter gives an empty form, ready for the next caller.
    expect(created.get_by_role("button", name="新建下一单")).to_be_focused()
    page.keyboard.press("Enter")
    expect(created).to_have_count(0)
    expect(form.locator("input[name=caller_phone]")).to_have_value("")
    expect(form.locator("input[name=caller_phone]")).to_be_focused()


def test_an_answered_call_without_an_order_gets_its_outcome(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    sign_in("operator1")
    phone = fresh_phone()
    call = f"ANS-{uuid.uuid4().hex[:8]}"
    live_server.answered(call, phone, "1001")
    # The live calls show residents' numbers masked; the newest call first.
    row = page.locator("section.view.desk .call-list li", has_text=masked(phone)).first
    expect(row.locator(".badge.disp-answered")).to_be_visible()

    row.get_by_role("button", name="登记结果").click()
    row.get_by_role("button", name="打错电话").click()
    row.get_by_role("button", name="确认：打错电话").click()
    expect(row.locator(".badge.outcome")).to_have_text("打错电话")
    expect(row.get_by_role("button", name="登记结果")).to_have_count(0)

    calls = live_server.api("operator1", "GET", "/api/v1/calls", params={"caller": phone})["items"]
    assert [c["outcome"] for c in calls] == ["wrong_number"]
