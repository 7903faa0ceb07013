"""The action buttons are the server's allowed_actions for that user and order, and they work."""

from __future__ import annotations

import itertools
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer

# The Chinese label of each verb as actions.js shows it; "complete" reads by status.
LABELS = {
    "dispatch": "派单",
    "accept": "签收",
    "decline": "退单",
    "check-in": "到场签到",
    "rate": "回访评价",
    "urge": "催办",
    "extend": "延期",
    "reopen": "重办",
    "withdraw": "收回改派",
    "cancel": "撤销",
    "notes": "内部备注",
}
CONSULTATION = "ERR-04"  # 代缴费用: not a home visit, so a new order waits for the operator
_phones = itertools.count(13900001001)


def labels(order: dict[str, Any]) -> list[str]:
    """The buttons the console should show for the order's allowed_actions, in the server's order."""
    direct = order["status"] == "received"
    return [
        ("直接办结" if direct else "办结") if verb == "complete" else LABELS[verb]
        for verb in order["allowed_actions"]
    ]


def new_consultation(server: LiveServer) -> dict[str, Any]:
    order = server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": str(next(_phones)),
            "resident_name": "测试居民",
            "description": "想咨询一下水电费怎么代缴",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "item_code": CONSULTATION,
            "channel": "phone",
        },
    )
    assert order["status"] == "received", order
    return order


def test_an_operator_sees_the_actions_of_a_received_order(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    created = new_consultation(live_server)
    order = live_server.api("operator1", "GET", f"/api/v1/orders/{created['id']}")
    wanted = labels(order)
    # The server's rule, spelled out once so this test can fail on its own.
    assert {"派单", "直接办结", "撤销"} <= set(wanted) and "签收" not in wanted

    sign_in("operator1", f"#/orders?open={order['id']}")
    detail = page.locator("section.view.orders .detail-pane")
    expect(detail.locator("h2")).to_have_text(order["number"])
    buttons = detail.locator(".actions .action-buttons > button")
    expect(buttons).to_have_text(wanted)
    expect(detail.locator(".actions").get_by_role("button", name="签收")).to_have_count(0)

    # 直接办结 opens its form (答复内容), and a second click closes it again.
    direct = detail.locator(".action-buttons").get_by_role("button", name="直接办结")
    direct.click()
    expect(detail.locator(".action-slot form").get_by_text("答复内容")).to_be_visible()
    direct.click()
    expect(detail.locator(".action-slot form")).to_have_count(0)


def test_a_worker_signs_for_an_offer(page: Page, sign_in, live_server: LiveServer) -> None:
    worker = live_server.api("worker", "GET", "/api/v1/me")
    created = new_consultation(live_server)
    live_server.api(
        "operator1",
        "POST",
        f"/api/v1/orders/{created['id']}/dispatch",
        json={"provider_id": worker["provider_id"]},
    )
    offered = live_server.api("worker", "GET", f"/api/v1/orders/{created['id']}")
    assert offered["status"] == "offered"
    wanted = labels(offered)
    assert {"签收", "退单"} <= set(wanted) and not {"派单", "撤销"} & set(wanted)

    sign_in("worker")
    card = page.locator("section.view.mine article.job", has_text=offered["number"])
    buttons = card.locator(".action-buttons > button")
    expect(buttons).to_have_text(wanted)

    # One tap signs for it (the phone app); the card says so in place, no toast over the buttons.
    card.get_by_role("button", name="签收").click()
    expect(card.locator(".job-status")).to_have_text("签收成功")

    accepted = live_server.api("worker", "GET", f"/api/v1/orders/{created['id']}")
    assert accepted["status"] == "accepted"
    assert "check-in" in accepted["allowed_actions"] and "accept" not in accepted["allowed_actions"]
    expect(buttons).to_have_text(labels(accepted))
    expect(card.get_by_role("button", name="到场签到")).to_be_visible()
    expect(card.get_by_role("button", name="签收")).to_have_count(0)


def test_a_supervisor_takes_an_offer_back_and_notes_why(page: Page, sign_in, live_server: LiveServer) -> None:
    order = live_server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": str(next(_phones)),
            "resident_name": "改派测试",
            "description": "卫生间水管漏水，需要上门维修",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "item_code": "HOME-01",  # 水电维修: a home visit, offered at once
            "channel": "phone",
        },
    )
    assert order["status"] == "offered", order
    first = live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}")["provider_id"]

    sign_in("supervisor", f"#/orders?open={order['id']}")
    detail = page.locator("section.view.orders .detail-pane")
    detail.locator(".action-buttons").get_by_role("button", name="收回改派").click()
    form = detail.locator(".action-slot form")
    form.locator("input[name=reason]").fill("服务方电话联系不上")
    choice = form.locator("select[name=provider_id]")
    expect(choice.locator("option:not([disabled])")).not_to_have_count(1)  # the candidates arrived
    other = choice.locator("option:not([disabled])").nth(1)
    provider_id = int(other.get_attribute("value") or 0)
    assert provider_id and provider_id != first
    choice.select_option(str(provider_id))
    form.get_by_role("button", name="提交收回改派").click()
    expect(detail.locator("ol.timeline")).to_contain_text("收回派单")
    assert live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}")["provider_id"] == provider_id

    # An internal note: in the timeline for the call centre, marked internal, never for providers.
    detail.locator(".action-buttons").get_by_role("button", name="内部备注").click()
    detail.locator(".action-slot textarea[name=text]").fill("原服务方本周人手不足，已改派")
    detail.locator(".action-slot").get_by_role("button", name="提交内部备注").click()
    note = detail.locator("ol.timeline li.internal", has_text="原服务方本周人手不足")
    expect(note.locator(".badge.internal")).to_have_text("内部")
    expect(note.locator("strong")).to_have_text("内部备注")
