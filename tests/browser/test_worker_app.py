"""The worker's phone app at 390×844: an offer arrives without a refresh, is signed for in one
tap, navigated to, checked in and completed, once with the connection dropped between (the
outbox sends what waited, in order, once each); touch targets are at least 44 px; the app is
installable and its shell opens without a connection."""

from __future__ import annotations

import itertools
import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import JsErrors, LiveServer, sign_in_on

PHONE = {"width": 390, "height": 844}
HOME_REPAIR = "HOME-01"
_phones = itertools.count(13900002001)


def offline_noise(js_errors: JsErrors, *expected: str) -> None:
    """Requests the page makes while the test has cut its connection fail, as they should (and
    so do the ones the test expects refused)."""
    noise = ("ERR_INTERNET_DISCONNECTED", *expected)
    js_errors.seen[:] = [e for e in js_errors.seen if not any(n in e for n in noise)]


def phone_page(page: Page, order_point: tuple[float, float] = (30.28, 120.13)) -> Page:
    page.set_viewport_size(PHONE)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": order_point[0], "longitude": order_point[1]})
    return page


def make_room(server: LiveServer) -> None:
    """The demo worker takes two orders at a time; earlier tests may have left theirs open."""
    for status in ("offered", "accepted", "in_service"):
        for o in server.api("worker", "GET", "/api/v1/orders", params={"status": status, "limit": 100})[
            "items"
        ]:
            server.api(
                "operator1", "POST", f"/api/v1/orders/{o['id']}/cancel", json={"reason": "测试腾出名额"}
            )


def offer_to_worker(server: LiveServer) -> dict[str, Any]:
    make_room(server)
    order = server.api(
        "operator1",
        "POST",
        "/api/v1/orders",
        json={
            "caller_phone": str(next(_phones)),
            "resident_name": "测试居民",
            "description": "厨房水龙头漏水，请上门维修",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "item_code": HOME_REPAIR,
            "channel": "phone",
        },
    )
    return dispatch_to_worker(server, order["id"])


def dispatch_to_worker(server: LiveServer, order_id: int) -> dict[str, Any]:
    """Offer the order to the demo worker (who has room: ``make_room`` first), as the worker sees it."""
    worker = server.api("worker", "GET", "/api/v1/me")
    status = server.api("supervisor", "GET", f"/api/v1/orders/{order_id}")["status"]
    if status == "offered":  # auto-dispatched (perhaps elsewhere): take it back for this worker
        server.api("supervisor", "POST", f"/api/v1/orders/{order_id}/withdraw", json={"reason": "测试改派"})
    server.api(
        "operator1",
        "POST",
        f"/api/v1/orders/{order_id}/dispatch",
        json={"provider_id": worker["provider_id"]},
    )
    return server.api("worker", "GET", f"/api/v1/orders/{order_id}")


def png(rgb: tuple[int, int, int], size: int = 32) -> bytes:
    """A small real PNG (a photo stand-in the phone compresses to JPEG before it is sent)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def sign_on(canvas: Any, page: Page) -> None:
    """Draw a stroke on the signature pad, as a finger would."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 25, box["y"] + box["height"] / 2 + (step % 3) * 12)
    page.mouse.up()


def worker_actions(server: LiveServer, order_id: int) -> list[str]:
    timeline = server.api("supervisor", "GET", f"/api/v1/orders/{order_id}")["timeline"]
    return [e["action"] for e in timeline if e["action"] in ("accept", "check_in", "complete")]


def position_of(page: Page, number: str) -> int:
    return page.evaluate(
        "(n) => [...document.querySelectorAll('section.view.mine article.job')]"
        ".findIndex((a) => a.textContent.includes(n))",
        number,
    )


def assert_touch_targets(card: Any) -> None:
    for target in card.locator("button:visible, a:visible").all():
        box = target.bounding_box()
        assert box and box["height"] >= 44, f"{target.inner_text()!r} is {box and box['height']} px tall"


def test_an_offer_arrives_live_and_the_work_survives_a_dropped_connection(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    phone_page(page)
    sign_in_on(page, "worker", "#/mine")
    view = page.locator("section.view.mine")
    conn = view.locator(".conn")
    expect(conn).to_have_attribute("data-state", "online")

    # Dispatched while the page is open: the card appears without a refresh, and the title counts it.
    order = offer_to_worker(live_server)
    card = view.locator("article.job", has_text=order["number"])
    expect(card).to_be_visible()
    expect(page).to_have_title(re.compile(r"^\(\d+\) 新派单 · 社区服务·工作端$"))
    expect(card.locator(".job-address")).to_have_text(order["address"])
    # Today's itinerary: how far the job is from where the phone is.
    expect(card.locator(".job-distance")).to_have_text(re.compile(r"^距此 \d+(\.\d)? (米|公里)$"))
    expect(card.locator("a.nav-link").first).to_have_attribute("href", re.compile(r"^geo:"))
    expect(card.locator("a.nav-link", has_text="高德地图")).to_be_visible()
    items = live_server.api("worker", "GET", "/api/v1/catalogue")["items"]
    notice = next(i for i in items if i["code"] == HOME_REPAIR).get("notice")
    if notice:
        expect(card.locator(".safety")).to_contain_text(notice)
    assert_touch_targets(card)

    # One tap signs for it.
    card.get_by_role("button", name="签收").click()
    expect(card.locator(".job-status")).to_have_text("签收成功")
    checkin = card.get_by_role("button", name="到场签到")
    expect(checkin).to_be_visible()
    place = position_of(page, order["number"])
    assert_touch_targets(card)

    # The connection drops: check in and complete all the same; both wait, in order.
    page.context.set_offline(True)
    expect(conn).to_have_attribute("data-state", "offline")
    expect(conn).to_contain_text("离线")
    checkin.click()
    expect(conn).to_contain_text("1 项待发送")
    expect(card.locator(".waiting-note")).to_have_text("待发送：到场签到")
    card.get_by_role("button", name="办结").click()
    card.locator("textarea[name=note]").fill("更换了水龙头阀芯，已试水不漏")
    # Two photos (compressed on the phone) and the resident's signature drawn on the screen.
    expect(card.get_by_role("button", name="拍照 / 添加照片")).to_be_visible()
    card.locator(".photos input[type=file]").set_input_files(
        [
            {"name": "before.png", "mimeType": "image/png", "buffer": png((200, 40, 40))},
            {"name": "after.png", "mimeType": "image/png", "buffer": png((40, 160, 60))},
        ]
    )
    expect(card.locator(".photos img")).to_have_count(2)
    sign_on(card.locator("canvas.signature-canvas"), page)
    card.get_by_role("button", name="提交办结").click()
    expect(conn).to_contain_text("2 项待发送")
    conn.get_by_role("button", name="2 项待发送").click()
    expect(view.locator(".waiting-list li")).to_have_count(2)
    expect(view.locator(".waiting-list li").nth(0)).to_contain_text(f"{order['number']} 到场签到")
    expect(view.locator(".waiting-list li").nth(1)).to_contain_text(f"{order['number']} 办结")
    assert worker_actions(live_server, order["id"]) == ["accept"]
    # The card kept its place in the list.
    assert position_of(page, order["number"]) == place

    # Back online: sent in order, once each, and the indicator clears.
    page.context.set_offline(False)
    expect(conn).not_to_contain_text("待发送")
    expect(conn).to_have_attribute("data-state", "online")
    expect(card).to_have_count(0)  # completed: off the to-do list
    assert worker_actions(live_server, order["id"]) == ["accept", "check_in", "complete"]
    assert live_server.api("worker", "GET", f"/api/v1/orders/{order['id']}")["status"] == "completed"
    # The photos went up once each, as JPEG, and the signature with the completion.
    shown = live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}/photos")["items"]
    photos = [a for a in shown if a["kind"] == "photo"]
    assert len(photos) == 2 and {a["content_type"] for a in photos} == {"image/jpeg"}
    assert [a for a in shown if a["kind"] == "signature"]
    offline_noise(js_errors)


def test_a_conflict_on_resending_is_shown_and_dropped(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    phone_page(page)
    sign_in_on(page, "worker", "#/mine")
    view = page.locator("section.view.mine")
    order = offer_to_worker(live_server)
    card = view.locator("article.job", has_text=order["number"])
    card.get_by_role("button", name="签收").click()
    expect(card.locator(".job-status")).to_have_text("签收成功")

    page.context.set_offline(True)
    expect(view.locator(".conn")).to_have_attribute("data-state", "offline")
    card.get_by_role("button", name="到场签到").click()
    expect(view.locator(".conn")).to_contain_text("1 项待发送")
    # Meanwhile the call centre cancels the order.
    live_server.api(
        "operator1", "POST", f"/api/v1/orders/{order['id']}/cancel", json={"reason": "居民撤回诉求"}
    )

    page.context.set_offline(False)
    problem = view.locator(".problems .conflict")
    expect(problem).to_contain_text(f"工单 {order['number']}")
    expect(problem).to_contain_text("“到场签到”")
    expect(problem).to_contain_text("已移出待发送")
    expect(view.locator(".conn")).not_to_contain_text("待发送")
    assert worker_actions(live_server, order["id"]) == ["accept"]
    offline_noise(js_errors, "409 (Conflict)")


def test_the_app_is_installable_and_opens_offline(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    phone_page(page)
    sign_in_on(page, "worker", "#/mine")
    expect(page.locator('link[rel="manifest"]')).to_have_attribute("href", "manifest.webmanifest")
    manifest = page.request.get("/console/manifest.webmanifest")
    assert manifest.ok and manifest.json()["name"] == "社区服务·工作端"
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)").endswith("/console/")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    cached = page.evaluate(
        """caches.open("sanshe-shell-v1").then((c) => Promise.all(
             ["index.html", "console.css", "js/main.js", "js/worker.js"].map((f) => c.match(f).then((r) => !!r))))"""
    )
    assert cached == [True, True, True, True]
    # API answers are never kept.
    keys = page.evaluate(
        "caches.open('sanshe-shell-v1').then((c) => c.keys()).then((ks) => ks.map((k) => k.url))"
    )
    assert not [k for k in keys if "/api/" in k]

    page.context.set_offline(True)
    page.reload()
    # The shell (page, styles, modules) came from the cache; it says the server cannot be reached.
    expect(page.locator("#signin-form")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("无法连接服务器")
    page.context.set_offline(False)
    offline_noise(js_errors)
