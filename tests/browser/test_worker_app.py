"""The worker's phone app at 390×844: an offer arrives without a refresh, is signed for in one
tap, navigated to, checked in and completed, once with the connection dropped between (the
outbox sends what waited, in order, once each); touch targets are at least 44 px; the app is
installable and its shell opens without a connection."""

from __future__ import annotations

import base64
import itertools
import json
import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import JsErrors, LiveServer, fill_sign_in, iso, now, sign_in_on

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


def offer_to_worker(
    server: LiveServer, *, at: tuple[float, float] | None = None, room: bool = True
) -> dict[str, Any]:
    """A home repair offered to the demo worker (at the point ``at``, else where its address is)."""
    if room:
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
        }
        | ({"lat": at[0], "lon": at[1]} if at else {}),
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


def indexeddb_photos(page: Page) -> int:
    """How many photos wait in the outbox's IndexedDB store (0 when it was never made)."""
    return page.evaluate(
        """async () => {
             if (!(await indexedDB.databases()).some((d) => d.name === "sanshe-outbox")) return 0;
             return new Promise((resolve, reject) => {
               const open = indexedDB.open("sanshe-outbox");
               open.onerror = () => reject(open.error);
               open.onsuccess = () => {
                 const db = open.result;
                 const count = db.transaction("photos").objectStore("photos").count();
                 count.onsuccess = () => (db.close(), resolve(count.result));
                 count.onerror = () => reject(count.error);
               };
             });
           }"""
    )


def kept_outbox(page: Page, username: str = "worker") -> str:
    """The outbox's entries as localStorage holds them (JSON text)."""
    return page.evaluate("(u) => localStorage.getItem(`sanshe.outbox.${u}`) || ''", username)


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
    # The photos wait in IndexedDB; localStorage keeps the entries naming them (and the small
    # signature, part of the completion's body), no photo.
    assert indexeddb_photos(page) == 2
    assert '"photo":' in kept_outbox(page) and "data:image/jpeg" not in kept_outbox(page)
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
    assert indexeddb_photos(page) == 0  # sent: nothing of them stays on the phone
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


def test_a_completion_an_older_version_kept_with_data_urls_is_still_sent(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    """An older app kept a waiting completion's photos as data URLs in localStorage: they move to
    IndexedDB when the outbox opens, and go up with the completion, once."""
    order = offer_to_worker(live_server)
    live_server.api("worker", "POST", f"/api/v1/orders/{order['id']}/accept")
    live_server.api(
        "worker", "POST", f"/api/v1/orders/{order['id']}/check-in", json={"lat": 30.28, "lon": 120.13}
    )
    jpeg = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(200)).decode()
    legacy = {
        "key": str(uuid.uuid4()),
        "orderId": order["id"],
        "number": order["number"],
        "verb": "complete",
        "label": "办结",
        "path": f"/api/v1/orders/{order['id']}/complete",
        "body": {"note": "旧版本离线办结"},
        "at": iso(now()),
        "steps": [{"n": 0, "dataUrl": f"data:image/jpeg;base64,{jpeg}", "id": None}],
    }
    phone_page(page)
    page.goto("/console/")
    page.evaluate("(v) => localStorage.setItem('sanshe.outbox.worker', v)", json.dumps([legacy]))
    page.route("**/api/v1/orders/*/photos", lambda route: route.abort())  # held back, to look first
    fill_sign_in(page, "worker")
    conn = page.locator("section.view.mine .conn")
    expect(conn).to_contain_text("1 项待发送")
    page.wait_for_function("!(localStorage.getItem('sanshe.outbox.worker') || '').includes('data:')")
    assert indexeddb_photos(page) == 1 and '"photo":' in kept_outbox(page)

    page.unroute("**/api/v1/orders/*/photos")
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(conn).not_to_contain_text("待发送")
    assert live_server.api("worker", "GET", f"/api/v1/orders/{order['id']}")["status"] == "completed"
    shown = live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}/photos")["items"]
    assert [(a["kind"], a["stage"]) for a in shown] == [("photo", "completion")]
    assert indexeddb_photos(page) == 0
    offline_noise(js_errors, "ERR_FAILED")


def test_the_cards_follow_the_itinerary_and_keep_their_place_after_check_in(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    here = (30.28, 120.13)
    pid = live_server.api("worker", "GET", "/api/v1/me")["provider_id"]
    capacity = live_server.api("supervisor", "GET", f"/api/v1/providers/{pid}")["capacity"]
    make_room(live_server)
    live_server.api("supervisor", "PATCH", f"/api/v1/providers/{pid}", json={"capacity": capacity + 3})
    try:
        # Taken far, near, middle: the deadlines keep that order, the itinerary goes nearest first.
        far, near, middle = (
            offer_to_worker(live_server, at=point, room=False)
            for point in ((30.307, 120.13), (30.2818, 120.13), (30.289, 120.13))
        )
        for o in (far, near, middle):
            live_server.api("worker", "POST", f"/api/v1/orders/{o['id']}/accept")
        jobs = live_server.api("worker", "GET", "/api/v1/me/jobs", params={"lat": here[0], "lng": here[1]})[
            "items"
        ]
        itinerary = [str(j["order_id"]) for j in jobs]
        assert itinerary == [str(o["id"]) for o in (near, middle, far)]

        phone_page(page, here)
        sign_in_on(page, "worker", "#/mine")
        cards = page.locator("section.view.mine article.job")

        def expect_in_itinerary_order() -> None:
            expect(cards).to_have_count(3)
            for n, order_id in enumerate(itinerary):
                expect(cards.nth(n)).to_have_attribute("data-id", order_id)

        expect_in_itinerary_order()
        expect(cards.nth(0).locator(".job-distance")).to_have_text(re.compile(r"^距此 \d+ 米$"))
        expect(cards.nth(2).locator(".job-distance")).to_have_text(re.compile(r"^距此 \d\.\d 公里$"))

        # A check-in at the last card (in service now) does not move it, nor does reading the list again.
        cards.nth(2).get_by_role("button", name="到场签到").click()
        expect(cards.nth(2).locator(".job-status")).to_contain_text("已到场签到")
        expect(cards.nth(2).get_by_role("button", name="办结")).to_be_visible()
        expect_in_itinerary_order()
        page.locator("section.view.mine .mine-head").get_by_role("button", name="刷新").click()
        expect_in_itinerary_order()
        assert worker_actions(live_server, far["id"]) == ["accept", "check_in"]
    finally:
        live_server.api("supervisor", "PATCH", f"/api/v1/providers/{pid}", json={"capacity": capacity})
        make_room(live_server)
