"""Residents' numbers in the console: masked where the policy masks them (residents/privacy.py),
revealed by the call centre only with a reason, and every reveal in the admins' 访问记录."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, masked, national

CONSULTATION = "ERR-04"  # 代缴费用: not a home visit, so a new order waits for dispatch
_phones = itertools.count(13912000001)


def new_order(server: LiveServer) -> tuple[dict[str, Any], str]:
    """An order an operator took for a caller with a number nobody else uses; and that number."""
    phone = str(next(_phones))
    order = server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": phone,
            "resident_name": "隐私测试",
            "description": "想咨询一下水电费怎么代缴",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "item_code": CONSULTATION,
            "channel": "phone",
        },
    )
    return order, phone


def whole_forms(phone: str) -> list[str]:
    """Every way the console could write the whole number."""
    return [phone, national(phone), f"+86{phone}"]


def reveals(server: LiveServer, order_id: int) -> list[dict[str, Any]]:
    query = {"order_id": order_id, "action": "phone_reveal"}
    return server.api("admin", "GET", "/api/v1/audit", params=query)["items"]


def test_an_operator_sees_numbers_masked_and_reveals_one_with_a_reason(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    order, phone = new_order(live_server)
    listed = live_server.api("operator1", "GET", "/api/v1/orders", params={"number": order["number"]})
    assert listed["items"][0]["caller_phone"] is None  # the server masks; the console shows what it gets

    sign_in("operator1", f"#/orders?number={order['number']}")
    row = page.locator("section.view.orders table tbody tr", has_text=order["number"])
    cell = row.locator("td.phone-cell")
    expect(cell.locator(".masked")).to_have_text(masked(phone))
    for whole in whole_forms(phone):
        expect(page.locator("#views")).not_to_contain_text(whole)

    # 查看号码 asks why; without a reason nothing is revealed.
    cell.get_by_role("button", name="查看号码").click()
    dialog = page.locator("dialog.reveal-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(masked(phone))
    dialog.get_by_role("button", name="查看号码").click()
    expect(dialog).to_be_visible()  # the reason is required: the browser holds the form
    assert reveals(live_server, order["id"]) == []

    dialog.get_by_role("button", name="核实居民信息").click()
    expect(dialog.locator("input[name=reason]")).to_have_value("核实居民信息")
    dialog.get_by_role("button", name="查看号码").click()
    expect(dialog).to_have_count(0)
    expect(cell.locator("a.phone")).to_have_text(national(phone))
    expect(cell.locator("a.phone")).to_have_attribute("href", f"tel:+86{phone}")
    # The row did not open on the way (the dialog's clicks stay in the dialog).
    expect(page.locator("section.view.orders .detail-pane h2")).to_have_count(0)

    records = reveals(live_server, order["id"])
    assert len(records) == 1, records
    assert records[0]["username"] == "operator1"
    assert records[0]["reason"] == "核实居民信息"
    assert records[0]["action_zh"] == "查看号码"
    assert records[0]["resident_id"] == order["resident_id"]


def test_a_reason_can_be_typed_and_cancel_reveals_nothing(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    order, phone = new_order(live_server)
    sign_in("operator1", f"#/orders?open={order['id']}")
    detail = page.locator("section.view.orders .detail-pane")
    expect(detail.locator("h2")).to_have_text(order["number"])
    expect(detail.locator(".masked").first).to_have_text(masked(phone))

    detail.get_by_role("button", name="查看号码").click()
    dialog = page.locator("dialog.reveal-dialog")
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_have_count(0)
    expect(detail).not_to_contain_text(national(phone))
    assert reveals(live_server, order["id"]) == []

    detail.get_by_role("button", name="查看号码").click()
    dialog.locator("input[name=reason]").fill("居民来电要求更正号码")
    dialog.locator("input[name=reason]").press("Enter")
    expect(detail.locator("a.phone")).to_have_text(national(phone))
    expect(detail.locator("h2")).to_have_text(order["number"])  # Enter did not close the record
    assert [r["reason"] for r in reveals(live_server, order["id"])] == ["居民来电要求更正号码"]


def test_a_worker_sees_a_whole_number_only_on_an_order_they_hold(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    worker = live_server.api("worker", "GET", "/api/v1/me")
    order, phone = new_order(live_server)
    live_server.api(
        "operator1",
        "POST",
        f"/api/v1/orders/{order['id']}/dispatch",
        json={"provider_id": worker["provider_id"]},
    )

    # Offered: masked, and no way to the number.
    sign_in("worker")
    view = page.locator("section.view.mine")
    card = view.locator("article.job", has_text=order["number"])
    expect(card.locator(".masked")).to_have_text(masked(phone))
    expect(card.get_by_role("button", name="查看号码")).to_have_count(0)
    for whole in whole_forms(phone):
        expect(view).not_to_contain_text(whole)
    # Nor in what the page was sent.
    assert not any(whole in page.content() for whole in whole_forms(phone))

    # Signed for: the number is theirs to call, from the order's detail.
    # One tap signs for it (the phone app); the card says so in place, no toast over the buttons.
    card.get_by_role("button", name="签收").click()
    expect(card.locator(".job-status")).to_have_text("签收成功")
    card = view.locator("article.job", has_text=order["number"])
    expect(card.locator(".masked")).to_have_text(masked(phone))
    card.get_by_role("button", name="查看号码").click()
    expect(card.locator("a.phone")).to_have_text(national(phone))
    detail = live_server.api(
        "admin", "GET", "/api/v1/audit", params={"order_id": order["id"], "action": "order_detail"}
    )
    assert "worker" in [r["username"] for r in detail["items"]]

    # Another order, not theirs: never shown at all.
    other, other_phone = new_order(live_server)
    page.reload()
    expect(view.locator("article.job", has_text=order["number"])).to_be_visible()
    expect(view).not_to_contain_text(other["number"])
    assert not any(whole in page.content() for whole in whole_forms(other_phone))


def test_the_admins_access_trail_shows_a_reveal_and_exports_it(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    order, phone = new_order(live_server)
    reason = "回访评价 核对号码"
    live_server.api(
        "operator1", "POST", "/api/v1/phones/reveal", json={"order_id": order["id"], "reason": reason}
    )

    sign_in("admin", "#/admin?section=audit")
    section = page.locator("section.view.admin section.audit")
    expect(page.locator(".admin-nav").get_by_role("tab", name="访问记录")).to_have_attribute(
        "aria-selected", "true"
    )
    form = section.locator("form.audit-filters")
    form.locator("select[name=action]").select_option("phone_reveal")
    form.locator("input[name=order]").fill(order["number"])
    form.locator("input[name=order]").press("Enter")
    expect(page).to_have_url(re.compile(r"action=phone_reveal"))
    rows = section.locator("table.audit-table tbody tr")
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_contain_text("operator1")
    expect(row).to_contain_text("查看号码")
    expect(row).to_contain_text(reason)
    expect(row).to_contain_text("隐*")  # whose, masked: the trail says whose, not who they are
    for whole in whole_forms(phone):
        expect(section).not_to_contain_text(whole)

    # A click on the account filters by it.
    row.get_by_role("link", name="operator1").click()
    expect(page).to_have_url(re.compile(r"user=\d+"))
    expect(form.locator("select[name=user]")).not_to_have_value("")

    # The export is fetched with the token in a header, never in a URL.
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    with page.expect_download() as download:
        section.get_by_role("button", name="导出 CSV").click()
    saved = download.value
    assert saved.suggested_filename.startswith("sanshe-access-")
    text = Path(saved.path()).read_text(encoding="utf-8-sig")
    assert reason in text and "operator1" in text
    assert any("/api/v1/audit/export.csv" in u for u in urls)
    assert not any("token" in u for u in urls)
