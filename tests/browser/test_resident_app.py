"""The residents' web app (/r/) in Chromium against the demo server.

A resident signs in with the code the server texts them (the demo's log adapter writes the SMS to
the server's log, which is where these tests read it: the code is never in an HTTP answer), on a
390×844 phone and on a 1440×900 PC screen; files a request with a photo and follows it as a worker
(driven through the staff API) signs for it, arrives and completes it; rates it 2 stars and asks
for rework. Also: the Chinese errors of signing in, the large-text mode, another resident's
request staying unseen, and the shell opening without a connection.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import JsErrors, LiveServer, national
from tests.browser.test_worker_app import dispatch_to_worker, make_room, offline_noise, png
from tests.support.waiting import wait_until

PHONE = {"width": 390, "height": 844}
PC = {"width": 1440, "height": 900}
MIN_TOUCH_PX = 48
# Numbers of this suite's residents: nobody else's (the log masks the middle digits, so the
# first three and last four must tell them apart).
_mobiles = itertools.count(13722000001)
CODE_SMS = re.compile(r"SMS \S+ to (\+86\d{3}\*{4}\d{4}) logged, not sent: .*?验证码是 (\d{6})")


def new_mobile() -> str:
    return str(next(_mobiles))


def codes_sent(server: LiveServer, mobile: str) -> list[str]:
    """The sign-in codes texted to ``mobile`` so far, oldest first (from the SMS log adapter)."""
    to = f"+86{mobile[:3]}****{mobile[-4:]}"
    text = server.log.read_text(encoding="utf-8", errors="replace")
    return [code for number, code in CODE_SMS.findall(text) if number == to]


def next_code(server: LiveServer, mobile: str, seen: int) -> str:
    """The code texted after the ``seen`` earlier ones (it is sent after the answer: wait for it)."""
    assert wait_until(lambda: len(codes_sent(server, mobile)) > seen), (
        f"no sign-in code texted to {mobile}:\n{server.log_tail()}"
    )
    return codes_sent(server, mobile)[-1]


def ask_for_code(page: Page, mobile: str) -> None:
    page.locator("#phone").fill(mobile)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("heading", name="输入验证码")).to_be_visible()


def sign_in(page: Page, server: LiveServer, mobile: str, route: str = "") -> None:
    """Open the app at ``#/route`` and sign in there by SMS code as the resident of ``mobile``
    (one code a minute per number: once per number and test)."""
    page.goto(f"/r/#/{route}")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    seen = len(codes_sent(server, mobile))
    ask_for_code(page, mobile)
    page.locator("#code").fill(next_code(server, mobile, seen))  # the last digit signs in
    expect(page.get_by_role("heading", name="登录")).to_have_count(0)


def bearer(page: Page) -> dict[str, str]:
    """The signed-in page's own token (in the tab: a browser, not an installed app)."""
    token = page.evaluate("sessionStorage.getItem('sanshe.r.token')")
    assert token
    return {"Authorization": f"Bearer {token}"}


def assert_touch_targets(page: Page) -> None:
    """Every button and link on screen is at least 48 px tall (the app's rule, for old fingers)."""
    for target in page.locator("main button:visible, main a:visible, header button, footer a").all():
        box = target.bounding_box()
        assert box and box["height"] >= MIN_TOUCH_PX, f"{target.inner_text()!r}: {box}"


def hotline_is_shown(page: Page) -> None:
    hotline = page.locator("footer #hotline")
    expect(hotline).to_be_visible()
    expect(hotline).to_have_attribute("href", re.compile(r"^tel:\d+"))


@dataclass
class Request:
    words: str
    item: str
    place: str
    door: str
    when: str
    photo: bytes | None = None


def describe(page: Page, request: Request) -> None:
    """From home: what is wrong, and the service tapped among those suggested while typing."""
    page.get_by_role("link", name="新的求助").click()
    page.locator("#description").fill(request.words)
    chip = page.locator(".chips button.chip", has_text=request.item)
    expect(chip).to_be_visible()
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="下一步").click()


def where_photos_when(page: Page, request: Request) -> None:
    """The address (completed from the gazetteer, then the door number), the photo, the time:
    on to the confirm screen."""
    expect(page.get_by_role("heading", name="在哪里？")).to_be_visible()
    address = page.locator("#address")
    address.press_sequentially(request.place)
    completion = page.locator(".choices button", has=page.get_by_text(request.place, exact=True))
    expect(completion).to_be_visible()  # completed from the district's gazetteer
    completion.click()
    expect(page.locator(".view")).to_contain_text(f"已定位到：{request.place}")
    address.press("End")
    address.press_sequentially(request.door)
    page.get_by_role("button", name="下一步").click()

    expect(page.get_by_role("heading", name="拍张照片（可以不拍）")).to_be_visible()
    if request.photo:
        page.locator("#photo-file").set_input_files(
            {"name": "leak.png", "mimeType": "image/png", "buffer": request.photo}
        )
        expect(page.locator(".thumbs img")).to_have_count(1)
        expect(page.locator(".view")).to_contain_text("已选 1 张，最多 3 张")
    page.get_by_role("button", name="下一步").click()

    expect(page.get_by_role("heading", name="希望什么时候上门？")).to_be_visible()
    page.get_by_role("button", name=request.when, exact=True).click()
    page.get_by_role("button", name="下一步").click()

    expect(page.get_by_role("heading", name="请确认")).to_be_visible()
    summary = page.locator("dl.summary")
    for shown in (request.item, request.door, request.when):
        expect(summary).to_contain_text(shown)


def filed(page: Page) -> dict[str, str]:
    """The done screen: the order's number and id (from the 查看进度 link)."""
    expect(page.get_by_role("heading", name="已收到您的求助")).to_be_visible()
    href = page.get_by_role("link", name="查看进度").get_attribute("href") or ""
    return {"number": page.locator(".number").inner_text(), "id": href.rsplit("/", 1)[1]}


def order_of(server: LiveServer, order_id: str) -> dict[str, Any]:
    return server.api("supervisor", "GET", f"/api/v1/orders/{order_id}")


def test_a_resident_files_a_request_with_a_photo_and_follows_it_to_rework(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, new_mobile())
    expect(page.get_by_role("heading", name="社区服务")).to_be_visible()
    hotline_is_shown(page)
    assert_touch_targets(page)
    make_room(live_server)  # the demo worker, who will take it, has room for it

    request = Request(
        words="厨房水管漏水了，地上都是水",
        item="水电维修",
        place="翠苑一区",
        door="3幢2单元501室",
        when="明天上午",
        photo=png((40, 90, 160), size=64),
    )
    describe(page, request)
    where_photos_when(page, request)
    assert_touch_targets(page)
    # A double tap files one order (the button is disabled at the first, and the key is kept).
    page.get_by_role("button", name="提交求助").dblclick()
    order = filed(page)
    expect(page.locator(".view")).to_contain_text("照片已上传（1 张）")

    # On the server: one order by the web channel, through the same intake, with the photo.
    found = order_of(live_server, order["id"])
    assert found["number"] == order["number"]
    assert found["channel"] == "web"
    assert found["item_code"] == "HOME-01"
    assert found["complete_by"] and found["priority"]  # intake: the SLA deadline and the priority
    assert found["address"].endswith("3幢2单元501室") and found["lat"] and found["lon"]
    photos = live_server.api("supervisor", "GET", f"/api/v1/orders/{order['id']}/photos")["items"]
    assert [(p["stage"], p["content_type"]) for p in photos] == [("intake", "image/jpeg")]
    mine = httpx.get(f"{live_server.url}/api/v1/r/requests", headers=bearer(page), timeout=60).json()
    assert [r["number"] for r in mine["items"]] == [order["number"]]

    # Following it: the detail reads itself again while it is open.
    page.get_by_role("link", name="查看进度").click()
    status = page.locator(".big-status")
    expect(status).to_have_text(re.compile("已受理|正在安排"))
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text(f"工单号 {order['number']}")
    expect(page.locator(".thumbs img")).to_have_attribute("src", re.compile("^blob:"))
    expect(page.get_by_role("button", name="撤销求助")).to_be_visible()  # before the visit starts

    dispatch_to_worker(live_server, int(order["id"]))
    live_server.api("worker", "POST", f"/api/v1/orders/{order['id']}/accept")
    expect(status).to_have_text("已安排服务人员")  # without a reload
    expect(page.locator("dl.summary")).to_contain_text(re.compile(r"\S+(师傅|社工)"))
    expect(timeline).to_contain_text("已安排服务人员")
    live_server.api(
        "worker",
        "POST",
        f"/api/v1/orders/{order['id']}/check-in",
        json={"lat": found["lat"], "lon": found["lon"]},
    )
    page.reload()
    expect(status).to_have_text("服务人员已到达")
    expect(timeline).to_contain_text("服务人员已到达")
    expect(page.get_by_role("button", name="撤销求助")).to_have_count(0)  # the visit has started
    live_server.api(
        "worker", "POST", f"/api/v1/orders/{order['id']}/complete", json={"note": "已更换水管接头"}
    )
    expect(status).to_have_text("已完成")
    expect(timeline).to_contain_text("服务已完成")

    # Rated 2 stars: rework may be asked for.
    page.get_by_role("radio", name=re.compile("2 星")).click()
    page.locator("#rating-comment").fill("还是有点漏水")
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator(".view")).to_contain_text("谢谢您的评价")
    expect(page.locator("dl.summary")).to_contain_text("不满意：还是有点漏水")
    page.get_by_role("button", name="申请重办").click()
    page.locator("#rework-reason").fill("水管接头还在滴水")
    page.get_by_role("button", name="确认申请重办").click()
    expect(page.locator(".view")).to_contain_text("已申请重办")
    expect(timeline).to_contain_text("重办")

    reopened = order_of(live_server, order["id"])
    assert reopened["status"] in ("received", "offered")  # open again (and perhaps dispatched again)
    assert reopened["reopen_count"] == 1
    assert [e["action"] for e in reopened["timeline"]].count("reopen") == 1


def test_on_a_pc_screen_a_dangerous_item_warns_a_lost_answer_files_once_and_a_request_is_cancelled(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    page.set_viewport_size(PC)
    sign_in(page, live_server, new_mobile())
    hotline_is_shown(page)
    # A centred column, in larger type than on a phone.
    column = page.locator("main.screen").bounding_box()
    assert column and 600 <= column["width"] <= 900
    assert abs(column["x"] + column["width"] / 2 - PC["width"] / 2) < 10
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") >= 20

    request = Request(
        words="家里燃气灶打不着火，有点燃气味",
        item="燃气设施报修",
        place="翠苑一区",
        door="5幢1单元302室",
        when="尽快，时间不限",
    )
    describe(page, request)
    # The item's safety notice comes first and must be acknowledged: going past it leads back.
    expect(page.get_by_role("heading", name="安全提示")).to_be_visible()
    expect(page.locator(".notice")).to_contain_text("关阀开窗")
    page.goto("/r/#/new/address")
    expect(page.get_by_role("heading", name="安全提示")).to_be_visible()
    page.get_by_role("button", name="我已知晓，继续").click()
    where_photos_when(page, request)
    expect(page.locator(".notice")).to_contain_text("您已知晓")

    # The first answer is lost on the way back (the order was filed): 再次提交 sends the same key.
    keys: list[str] = []

    def lose_the_first_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # it reaches the server ...
            route.abort("connectionreset")  # ... and the answer never reaches the page
        else:
            route.continue_()

    page.route("**/api/v1/r/requests", lose_the_first_answer)
    page.get_by_role("button", name="提交求助").click()
    expect(page.locator(".problem")).to_have_text("无法连接服务器，请检查网络后再试")
    page.get_by_role("button", name="再次提交").click()
    order = filed(page)
    page.unroute("**/api/v1/r/requests")
    assert len(keys) == 2 and keys[0] == keys[1]
    mine = httpx.get(f"{live_server.url}/api/v1/r/requests", headers=bearer(page), timeout=60).json()
    assert [r["number"] for r in mine["items"]] == [order["number"]]
    assert order_of(live_server, order["id"])["channel"] == "web"
    js_errors.seen[:] = [e for e in js_errors.seen if "ERR_CONNECTION_RESET" not in e]

    page.get_by_role("link", name="查看进度").click()
    expect(page.locator(".view .notice")).to_contain_text("关阀开窗")  # still open: still shown
    page.get_by_role("button", name="撤销求助").click()
    expect(page.get_by_role("heading", name="确定要撤销这次求助吗？")).to_be_visible()
    page.get_by_role("button", name="不撤销").click()  # changed their mind: nothing happens
    expect(page.get_by_role("button", name="撤销求助")).to_be_visible()
    assert order_of(live_server, order["id"])["status"] != "cancelled"
    page.get_by_role("button", name="撤销求助").click()
    page.get_by_role("button", name="不需要了").click()
    page.get_by_role("button", name="确定撤销").click()
    expect(page.locator(".big-status")).to_have_text("已取消")
    expect(page.locator("ol.timeline")).to_contain_text("您已取消：不需要了")
    assert order_of(live_server, order["id"])["status"] == "cancelled"

    page.get_by_role("link", name="‹ 我的求助").click()
    expect(page.locator("a.card", has_text=order["number"])).to_contain_text("已取消")


def test_signing_in_says_what_is_wrong_in_chinese(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    page.set_viewport_size(PHONE)
    mobile = new_mobile()
    page.goto("/r/")
    page.locator("#phone").fill("1234")
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator(".problem")).to_have_text("请输入 11 位手机号码")

    seen = len(codes_sent(live_server, mobile))
    ask_for_code(page, mobile)
    code = next_code(live_server, mobile, seen)
    resend = page.get_by_role("button", name=re.compile("^重新获取验证码"))
    expect(resend).to_be_disabled()
    expect(resend).to_have_text(re.compile(r"^重新获取验证码（\d+ 秒）$"))

    # Wrong codes: how many tries are left, then the code is burnt.
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    problem = page.locator(".problem")
    for left in (4, 3, 2, 1):
        page.locator("#code").fill(wrong)  # the sixth digit sends it
        expect(problem).to_have_text(f"验证码不正确，还可以再试 {left} 次")
    page.locator("#code").fill(wrong)
    expect(problem).to_have_text("验证码错误次数过多，已失效，请重新获取验证码")
    page.locator("#code").fill(code)  # the right one, too late
    expect(problem).to_have_text("验证码错误次数过多，已失效，请重新获取验证码")

    # Another code within the minute: the server's limit, in words, and a countdown.
    page.get_by_role("button", name="换一个手机号码").click()
    expect(page.locator("#phone")).to_have_value(mobile)
    page.get_by_role("button", name="获取验证码").click()
    expect(problem).to_contain_text("验证码已发送，请查看短信；如未收到，请")
    ask_again = page.get_by_role("button", name=re.compile("^获取验证码"))
    expect(ask_again).to_have_text(re.compile(r"^获取验证码（\d+ 秒）$"))
    expect(ask_again).to_be_disabled()
    assert len(codes_sent(live_server, mobile)) == seen + 1
    js_errors.seen[:] = [e for e in js_errors.seen if not re.search(r"\b(401|429)\b", e)]


def test_large_text_mode_is_remembered(page: Page, live_server: LiveServer, js_errors: JsErrors) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/r/")
    size = "parseFloat(getComputedStyle(document.documentElement).fontSize)"
    normal = page.evaluate(size)
    toggle = page.locator("#text-size")
    expect(toggle).to_have_text("大字")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_text("标准字")
    large = page.evaluate(size)
    assert large >= normal * 1.2
    title = page.get_by_role("heading", name="登录").bounding_box()
    page.reload()
    expect(page.locator("#text-size")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(size) == large
    again = page.get_by_role("heading", name="登录").bounding_box()
    assert title and again and again["height"] == title["height"]
    assert_touch_targets(page)
    page.locator("#text-size").click()
    assert page.evaluate(size) == normal


def test_another_resident_cannot_see_the_first_ones_request(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    # The first resident files through the API (as any client of it could) ...
    first = new_mobile()
    seen = len(codes_sent(live_server, first))
    r = httpx.post(f"{live_server.url}/api/v1/r/auth/code", json={"phone": first}, timeout=60)
    assert r.status_code == 202, r.text
    r = httpx.post(
        f"{live_server.url}/api/v1/r/auth/token",
        json={"phone": first, "code": next_code(live_server, first, seen)},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    r = httpx.post(
        f"{live_server.url}/api/v1/r/requests",
        headers={"Authorization": f"Bearer {r.json()['access_token']}", "Idempotency-Key": "r-own-request-1"},
        json={"description": "门锁坏了，打不开", "item_code": "HOME-04", "address": "翠苑一区 1幢101室"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    theirs = r.json()

    # ... and a second one, in the app, has a link to it: signing in leads there, and it is not found.
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, new_mobile(), f"requests/{theirs['id']}")
    expect(page.get_by_role("heading", name="求助详情")).to_be_visible()
    expect(page.locator(".view")).to_contain_text("没有找到这条求助")
    expect(page.locator(".view")).not_to_contain_text("门锁")
    page.get_by_role("link", name="‹ 我的求助").click()
    expect(page.locator(".view")).to_contain_text("您还没有求助记录")

    second = bearer(page)
    for path in (f"/api/v1/r/requests/{theirs['id']}", f"/api/v1/r/requests/{theirs['id']}/photos/1"):
        assert httpx.get(f"{live_server.url}{path}", headers=second, timeout=60).status_code == 404, path
    for verb, body in (("cancel", {}), ("rate", {"stars": 1}), ("rework", {})):
        r = httpx.post(
            f"{live_server.url}/api/v1/r/requests/{theirs['id']}/{verb}",
            headers=second,
            json=body,
            timeout=60,
        )
        assert r.status_code == 404, (verb, r.text)
    listed = httpx.get(f"{live_server.url}/api/v1/r/requests", headers=second, timeout=60).json()
    assert listed == {"items": [], "total": 0}
    assert order_of(live_server, str(theirs["id"]))["status"] != "cancelled"
    js_errors.seen[:] = [e for e in js_errors.seen if "404 (Not Found)" not in e]


def test_the_profile_and_signing_out(page: Page, live_server: LiveServer, js_errors: JsErrors) -> None:
    page.set_viewport_size(PHONE)
    mobile = new_mobile()
    sign_in(page, live_server, mobile)
    page.get_by_role("link", name="我的资料").click()
    expect(page.locator(".view")).to_contain_text(f"手机号码：{national(mobile)}")
    page.locator("#name").fill("张阿姨")
    page.locator("#home-address").fill("翠苑一区 2幢301室")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".view")).to_contain_text("已保存")
    page.locator("header .brand").click()
    expect(page.locator(".lead")).to_have_text("张阿姨，您好！需要帮助时，在这里告诉我们。")
    # A new request starts from the saved address.
    describe(page, Request(words="想请人上门打扫卫生", item="日常保洁", place="", door="", when=""))
    expect(page.locator("#address")).to_have_value("翠苑一区 2幢301室")

    # Signed out: the server forgets the token, the tab forgets it too.
    token = bearer(page)
    page.goto("/r/#/profile")
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    assert page.evaluate(
        "[sessionStorage.getItem('sanshe.r.token'), localStorage.getItem('sanshe.r.token')]"
    ) == [
        None,
        None,
    ]
    assert httpx.get(f"{live_server.url}/api/v1/r/me", headers=token, timeout=60).status_code == 401

    # A token that stops working mid-visit (signed out on another device) leads back to sign-in.
    page.evaluate("(t) => sessionStorage.setItem('sanshe.r.token', t)", token["Authorization"][7:])
    page.goto("/r/#/requests")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    js_errors.seen[:] = [e for e in js_errors.seen if "401 (Unauthorized)" not in e]


def test_the_app_is_installable_and_its_shell_opens_offline(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/r/")
    expect(page.locator('link[rel="manifest"]')).to_have_attribute("href", "manifest.webmanifest")
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)") == f"{live_server.url}/r/"
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    hotline_is_shown(page)
    cached = page.evaluate(
        """caches.open("sanshe-resident-shell-v1").then((c) => Promise.all(
             ["index.html", "resident.css", "js/main.js", "js/new-request.js"].map((f) => c.match(f).then((r) => !!r))))"""
    )
    assert cached == [True, True, True, True]
    # The page asked the API for its settings: that answer is not kept.
    keys = page.evaluate(
        "caches.open('sanshe-resident-shell-v1').then((c) => c.keys()).then((ks) => ks.map((k) => k.url))"
    )
    assert keys and not [k for k in keys if "/api/" in k]

    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    hotline_is_shown(page)  # the number last read, kept by the page
    page.locator("#phone").fill(new_mobile())
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator(".problem")).to_have_text("无法连接服务器，请检查网络后再试")
    page.context.set_offline(False)
    offline_noise(js_errors)
