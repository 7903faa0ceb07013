"""The console's security in a real browser: the event stream opens with single-use tickets (no
token in any URL or log line), a deactivated account's console leaves by itself, and admins read
the sign-in records."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import JsErrors, LiveServer


def test_the_stream_opens_with_a_ticket_and_no_token_is_in_any_url(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in("operator1")
    expect(page.locator("#live")).to_have_text("在线")
    token = page.evaluate("sessionStorage.getItem('sanshe.token')")
    assert token
    streams = [u for u in urls if "/api/v1/events?" in u]
    assert streams and all("ticket=" in u for u in streams), streams
    assert not [u for u in urls if token in u or "access_token" in u]
    # A screen pop still arrives over the stream the ticket opened.
    live_server.ring(f"SEC-{uuid.uuid4().hex[:8]}", "13911009999", "1001")
    expect(page.locator("section.view.desk .pop")).to_contain_text("139 1100 9999")
    assert token not in live_server.log.read_text(encoding="utf-8", errors="replace")


def test_a_deactivated_account_is_signed_out_by_its_stream(
    page: Page, live_server: LiveServer, js_errors: JsErrors
) -> None:
    name = f"sec{uuid.uuid4().hex[:8]}"
    password = "long-enough-1"
    user = live_server.api(
        "admin", "POST", "/api/v1/users", json={"username": name, "role": "operator", "password": password}
    )
    page.goto("/console/")
    form = page.locator("#signin-form")
    form.locator("input[name=username]").fill(name)
    form.locator("input[name=password]").fill(password)
    form.get_by_role("button", name="登录").click()
    expect(page.locator("#live")).to_have_text("在线")

    # Nobody touches this console: its stream notices the deactivation and it goes to sign-in.
    live_server.api("admin", "PATCH", f"/api/v1/users/{user['id']}", json={"active": False})
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_have_text("登录已过期，请重新登录")
    # The browser logged the ticket request the server refused: the point of this test.
    refused = [e for e in js_errors.seen if "status of 401 (Unauthorized)" in e]
    js_errors.seen[:] = [e for e in js_errors.seen if e not in refused]


def test_admins_read_the_sign_in_records(page: Page, sign_in, live_server: LiveServer) -> None:
    name = f"nobody{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        f"{live_server.url}/api/v1/auth/token", data={"username": name, "password": "a-guess-1"}, timeout=60
    )
    assert r.status_code == 401
    sign_in("admin", "#/admin?section=attempts")
    section = page.locator("section.attempts")
    expect(section.locator("tr", has_text=name)).to_contain_text("用户名不存在")
    expect(section.locator("tr", has_text=name)).to_contain_text("127.0.0.1")
    # Filtered by the name, the list holds that one attempt; the filter is in the URL.
    section.locator("input[name=username]").fill(name)
    section.locator("input[name=username]").press("Enter")
    expect(section.locator("tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"#/admin\?.*username={name}"))
