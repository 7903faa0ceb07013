"""批量派单 shows its plan first — which order goes to whom, how far, and who stays unassigned
and why — and offers nothing until 确认派单."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, fresh_phone

HOME_VISIT = "HOME-01"  # 水电维修


def waiting_home_visit(server: LiveServer) -> dict[str, Any]:
    """A home-visit order waiting for dispatch: offered automatically, then withdrawn."""
    order = server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": fresh_phone(),
            "resident_name": "批量测试",
            "description": "卫生间水管漏水，需要上门维修",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "item_code": HOME_VISIT,
            "channel": "phone",
        },
    )
    if order["status"] == "offered":
        server.api(
            "supervisor", "POST", f"/api/v1/orders/{order['id']}/withdraw", json={"reason": "改为批量派单"}
        )
    waiting = server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}")
    assert waiting["status"] == "received" and not waiting["supervisor_queue_reason"], waiting
    return waiting


def test_the_batch_plan_is_shown_and_confirmed(page: Page, sign_in, live_server: LiveServer) -> None:
    order = waiting_home_visit(live_server)
    sign_in("supervisor")
    batch = page.locator("section.view.stats .batch")
    batch.get_by_role("button", name="批量派单").click()

    plan = batch.locator(".batch-plan")
    expect(plan.locator(".plan-summary")).to_contain_text("待派")
    row = plan.locator("table.plan-table tbody tr", has_text=order["number"])
    expect(row.locator("td").nth(3)).to_contain_text("km")
    # Nothing is offered yet: the plan writes nothing.
    assert live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}")["status"] == "received"

    provider = row.locator("td").nth(2).inner_text()
    plan.get_by_role("button", name="确认派单").click()
    expect(plan.locator(".batch-result")).to_contain_text("已派出")
    offered = live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}")
    assert offered["status"] == "offered", offered
    assert (
        provider
        == live_server.api("supervisor", "GET", f"/api/v1/providers/{offered['provider_id']}")["name"]
    )
