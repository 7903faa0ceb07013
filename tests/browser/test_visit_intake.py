"""上门登记 on the worker's phone (390×844): a request for the resident at the door, classified by
tapping a live suggestion, the dangerous item's safety notice shown before it is sent, the address
with the phone's position, the resident's consent and a photo — created on the server as a visit
request with its consent and one intake photo; the same filed without a connection and sent, the
request first and then its photo, when it returns; and a grid worker's patrol report, which names
no resident."""

from __future__ import annotations

import itertools
import re
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import JsErrors, LiveServer, sign_in_on
from tests.browser.test_worker_app import indexeddb_photos, offline_noise, phone_page, png

HERE = (30.2803, 120.1302)  # where the phone is (its geolocation)
_phones = itertools.count(13900003001)


def open_visit_form(page: Page) -> Locator:
    """Signed in as the demo worker on 我的工单, one tap on 上门登记."""
    phone_page(page, HERE)
    sign_in_on(page, "worker", "#/mine")
    expect(page.locator("section.view.mine")).to_be_visible()
    page.locator("#tabs .tab", has_text="上门登记").click()
    view = page.locator("section.view.visit-intake")
    expect(view.locator(".conn")).to_have_attribute("data-state", "online")
    return view


def describe_and_pick(view: Locator, text: str, code: str) -> None:
    """Type what the resident says; the item is chosen by tapping its suggestion, never for you."""
    view.locator("textarea[name=description]").fill(text)
    chip = view.locator(f"button.suggestion[data-code='{code}']")
    expect(chip).to_be_visible()
    expect(view.locator("select[name=item_code]")).to_have_value("")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(view.locator("select[name=item_code]")).to_have_value(code)


def resident_and_consent(view: Locator, phone: str, consent: str) -> None:
    view.locator("input[name=caller_phone]").fill(phone)
    view.locator("input[name=resident_name]").fill("上门测试")
    view.get_by_role("button", name=consent).click()
    expect(view.get_by_role("button", name=consent)).to_have_attribute("aria-pressed", "true")


def add_photo(view: Locator) -> None:
    view.locator(".photos input[type=file]").set_input_files(
        [{"name": "leak.png", "mimeType": "image/png", "buffer": png((90, 120, 200))}]
    )
    expect(view.locator(".photos img")).to_have_count(1)


def filed(server: LiveServer, number: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The order as the call centre sees it, and its photos."""
    found = server.api("supervisor", "GET", "/api/v1/orders", params={"number": number})["items"]
    assert [o["number"] for o in found] == [number]
    detail = server.api("supervisor", "GET", f"/api/v1/orders/{found[0]['id']}")
    photos = server.api("supervisor", "GET", f"/api/v1/orders/{found[0]['id']}/photos")["items"]
    return detail, photos


def assert_thumb_sized(view: Locator) -> None:
    for target in view.locator("button:visible, input:visible, select:visible").all():
        box = target.bounding_box()
        assert box and box["height"] >= 44, (
            f"{target.evaluate('e => e.outerHTML')[:80]} is {box and box['height']} px"
        )


def assert_nothing_under(toast: Locator, targets: list[Locator]) -> None:
    t = toast.bounding_box()
    assert t
    for target in targets:
        b = target.bounding_box()
        assert b
        apart = (
            b["x"] + b["width"] <= t["x"]
            or t["x"] + t["width"] <= b["x"]
            or b["y"] + b["height"] <= t["y"]
            or t["y"] + t["height"] <= b["y"]
        )
        assert apart, f"the toast covers {target.inner_text()!r}"


def test_a_worker_files_a_visit_request_with_consent_and_a_photo(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    view = open_visit_form(page)
    # A dangerous item: its safety notice shows once it is chosen, before anything is sent.
    describe_and_pick(view, "老人说家里燃气灶打不着火，还有点煤气味", "HOME-10")
    expect(view.locator(".safety")).to_contain_text("闻到燃气味请立即关阀开窗")
    expect(view.get_by_role("button", name=re.compile(r"^提交登记：.*燃气设施报修$"))).to_be_visible()
    view.locator("input[name=address]").fill("文二路168号 翠苑一区 3幢2单元501室")
    view.get_by_role("button", name="使用我的位置").click()
    expect(view.locator(".visit-where")).to_contain_text("已定位")
    phone = str(next(_phones))
    resident_and_consent(view, phone, "口头同意")
    view.locator("input[name=consent_note]").fill("老人本人同意")
    add_photo(view)
    assert_thumb_sized(view)
    # A toast (a notification arriving now) sits in the page's flow, over no button.
    page.evaluate("import('/console/js/ui.js').then((ui) => ui.toast('新通知：测试提示', { ms: 60000 }))")
    toast = view.locator(".toasts .toast", has_text="测试提示")
    expect(toast).to_be_visible()
    assert_nothing_under(toast, view.locator("button:visible").all())

    view.get_by_role("button", name=re.compile(r"^提交登记")).click()
    result = view.locator(".visit-result")
    expect(result).to_contain_text("已登记")
    expect(result).to_contain_text("登记照片 1 张已上传")
    number = result.locator(".number").inner_text()

    order, photos = filed(live_server, number)
    assert (order["channel"], order["item_code"], order["consent_method"]) == ("visit", "HOME-10", "verbal")
    assert order["address"] == "文二路168号 翠苑一区 3幢2单元501室"
    assert abs(order["lat"] - HERE[0]) < 1e-4 and abs(order["lon"] - HERE[1]) < 1e-4
    created = next(e for e in order["timeline"] if e["action"] == "create")
    assert "居民口头同意（老人本人同意）" in created["note"]
    assert [(p["stage"], p["content_type"]) for p in photos] == [("intake", "image/jpeg")]

    # 再登记一单: a fresh form (a new Idempotency-Key), nothing of the last one left.
    result.get_by_role("button", name="再登记一单").click()
    expect(view.locator("textarea[name=description]")).to_have_value("")
    expect(view.locator(".photos img")).to_have_count(0)
    expect(view.get_by_role("button", name="口头同意")).to_have_attribute("aria-pressed", "false")


def test_a_visit_request_filed_offline_goes_in_order_when_the_connection_returns(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    view = open_visit_form(page)
    describe_and_pick(view, "居民说厨房水管漏水，地上都是水", "HOME-01")  # suggestions need the server
    conn = view.locator(".conn")

    page.context.set_offline(True)
    expect(conn).to_have_attribute("data-state", "offline")
    view.locator("input[name=address]").fill("文二路168号 翠苑一区 5幢1单元302室")
    phone = str(next(_phones))
    resident_and_consent(view, phone, "签字同意")
    add_photo(view)
    view.get_by_role("button", name=re.compile(r"^提交登记")).click()
    result = view.locator(".visit-result")
    expect(result).to_contain_text("无网络：登记已保存在本机，联网后自动提交")
    # The request, then its photo, each waiting in the order it was taken.
    expect(conn).to_contain_text("2 项待发送")
    conn.get_by_role("button", name="2 项待发送").click()
    waiting = view.locator(".waiting-list li")
    expect(waiting).to_have_count(2)
    expect(waiting.nth(0)).to_contain_text("上门登记（居民说厨房水管漏水，地上…）")
    expect(waiting.nth(1)).to_contain_text("登记照片 1")
    # The photo waits in IndexedDB, not as a data URL in localStorage.
    assert indexeddb_photos(page) == 1
    kept = page.evaluate("localStorage.getItem('sanshe.outbox.worker')")
    assert kept and "data:" not in kept and "photo" in kept

    page.context.set_offline(False)
    expect(conn).not_to_contain_text("待发送")
    expect(result).to_contain_text("已登记")
    expect(result).to_contain_text("登记照片 1 张已上传")
    number = result.locator(".number").inner_text()
    order, photos = filed(live_server, number)
    assert (order["channel"], order["item_code"], order["consent_method"]) == ("visit", "HOME-01", "signed")
    assert [p["stage"] for p in photos] == ["intake"]
    assert indexeddb_photos(page) == 0  # sent: nothing of it kept on the phone
    offline_noise(js_errors)


def test_a_grid_worker_files_a_patrol_report_without_a_resident(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    view = open_visit_form(page)
    view.get_by_role("button", name="巡查上报").click()
    expect(view.locator("input[name=caller_phone]")).to_be_hidden()
    expect(view.get_by_role("button", name="口头同意")).to_be_hidden()
    describe_and_pick(view, "3幢楼道灯不亮了，晚上很黑", "PRP-01")
    view.get_by_role("button", name=re.compile(r"^提交登记")).click()
    # The address is asked for before anything is sent.
    expect(view.locator(".visit-form .error")).to_contain_text("请填写所在地址")
    view.locator("input[name=address]").fill("翠苑一区3幢 楼道")
    view.get_by_role("button", name=re.compile(r"^提交登记")).click()
    result = view.locator(".visit-result")
    expect(result).to_contain_text("已登记")
    order, photos = filed(live_server, result.locator(".number").inner_text())
    assert (order["channel"], order["item_code"], order["resident_id"], order["consent_method"]) == (
        "visit",
        "PRP-01",
        None,
        None,
    )
    assert order["caller_phone_national"] == "" and photos == []
