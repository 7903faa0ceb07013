"""管理 › 开放接口: an admin issues an Open311 API key to an application (shown once, copied with a
button), sees it used, and revokes it; the key is refused from then on."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer


def test_an_admin_issues_a_key_sees_it_used_and_revokes_it(
    page: Page, sign_in, live_server: LiveServer
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in("admin", "#/admin?section=open311")
    section = page.locator(".admin-open311")
    form = section.locator("form.open311-issue")
    form.get_by_label("应用名称").fill("西湖区12345热线平台")
    form.get_by_label("联系人").fill("李工 0571-88880000")
    form.get_by_label("每分钟请求上限").fill("30")
    form.get_by_role("button", name="签发").click()

    issued = section.locator(".open311-issued")
    expect(issued).to_contain_text("已为「西湖区12345热线平台」签发接口密钥")
    expect(issued).to_contain_text("密钥只显示这一次")
    secret = issued.locator("code.open311-key").inner_text()
    assert re.fullmatch(r"s311_[A-Za-z0-9_-]{43}", secret), secret
    issued.get_by_role("button", name="复制密钥").click()
    expect(issued.get_by_role("button", name=re.compile("已复制|请按 Ctrl\\+C 复制"))).to_be_visible()

    # The list shows the key's prefix, never the key.
    row = section.locator("table.open311-keys tbody tr", has_text="西湖区12345热线平台")
    expect(row).to_contain_text(secret[:11] + "…")
    expect(row).to_contain_text("有效")
    expect(section.locator("table.open311-keys")).not_to_contain_text(secret)

    # The application uses it; the uses show up.
    used = httpx.get(f"{live_server.url}/open311/v2/services.json", params={"api_key": secret}, timeout=30)
    assert used.status_code == 200, used.text
    row.get_by_role("button", name="使用记录").click()
    uses = section.locator("table.open311-uses tbody tr")
    expect(uses.first).to_contain_text("查询服务目录")
    expect(uses.first).to_contain_text("200")

    # Revoked: refused from then on (403, the spec's error format), and listed as such.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="吊销").click()
    expect(row).to_contain_text("已吊销")
    refused = httpx.get(f"{live_server.url}/open311/v2/services.json", params={"api_key": secret}, timeout=30)
    assert refused.status_code == 403
    assert refused.json() == [{"code": 403, "description": "api_key 已被吊销：请联系平台管理员重新签发"}]
    row.get_by_role("button", name="使用记录").click()
    expect(uses.first).to_contain_text("403")
    expect(uses).to_have_count(2)

    # Shown once: back on the page, the key is nowhere.
    page.reload()
    expect(section.locator("table.open311-keys tbody tr", has_text="西湖区12345热线平台")).to_be_visible()
    expect(section.locator(".open311-issued")).to_be_hidden()
    expect(section).not_to_contain_text(secret)
