"""Screens follow what other people do: a supervisor's tiles and an operator's open order change
while they look at them, without a reload; an open action form is not pulled away."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, fresh_phone, sign_in_on

CONSULTATION = "ERR-04"  # 代缴费用: not a home visit, so a new order waits in 待派单


def consultation(server: LiveServer, username: str = "operator2") -> dict[str, Any]:
    return server.api(
        username,
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": fresh_phone(),
            "resident_name": "实时测试",
            "description": "咨询水电费怎么代缴",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "item_code": CONSULTATION,
            "channel": "phone",
        },
    )


def test_tiles_and_an_open_order_follow_other_users(
    new_page: Callable[[], Page], live_server: LiveServer
) -> None:
    order = consultation(live_server)
    boss = sign_in_on(new_page(), "supervisor")
    desk = sign_in_on(new_page(), "operator1", f"#/orders?open={order['id']}")

    tile = boss.locator(".watch a.tile[data-tile=dispatch] .tile-value")
    expect(tile).to_have_text(re.compile(r"^\d+$"))
    before = int(tile.inner_text())
    detail = desk.locator("section.view.orders .detail-pane")
    expect(detail.locator("h2")).to_have_text(order["number"])
    expect(detail.locator(".detail-head .badge.status-received")).to_have_text("已受理")

    # A third person (operator2, through the API) takes another call: the supervisor's 待派单
    # tile counts it.
    consultation(live_server)
    expect(tile).to_have_text(str(before + 1))

    # The operator has started to cancel the order when the supervisor answers it on the phone:
    # the half-filled form stays, and the operator is told who changed the order.
    detail.locator(".action-buttons").get_by_role("button", name="撤销").click()
    detail.locator(".action-slot input[name=reason]").fill("居民说不需要了")
    live_server.api(
        "supervisor", "POST", f"/api/v1/orders/{order['id']}/complete", json={"note": "已电话答复"}
    )
    banner = detail.locator(".changed")
    expect(banner).to_contain_text("该工单已被督办 supervisor更新")
    expect(detail.locator(".action-slot input[name=reason]")).to_have_value("居民说不需要了")
    expect(tile).to_have_text(str(before))  # and the supervisor's tile counts it out

    banner.get_by_role("button", name="重新加载").click()
    expect(detail.locator(".detail-head .badge.status-completed")).to_have_text("已办结")
    expect(detail.locator(".changed")).to_have_count(0)

    # With no form open, the detail simply follows: the rating callback closes it.
    live_server.api("supervisor", "POST", f"/api/v1/orders/{order['id']}/rate", json={"stars": 4})
    expect(detail.locator(".detail-head .badge.status-closed")).to_have_text("已归档")
    expect(detail.locator("ol.timeline li").last).to_contain_text("星级：4 星")
