"""管理 › 服务目录 › 试一试: a resident's sentence, the items suggested for it and why."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer


def test_an_admin_tries_a_sentence_and_sees_why(page: Page, sign_in, live_server: LiveServer) -> None:
    sentence = "家里厨房的水管漏水了"
    wanted = live_server.api(
        "admin", "GET", "/api/v1/catalogue/suggest", params={"q": sentence, "limit": 5, "explain": "true"}
    )["suggestions"]
    assert wanted and wanted[0]["why"], wanted

    sign_in("admin", "#/admin?section=catalogue")
    box = page.locator(".try-box")
    box.get_by_label("试一试：输入一句话").fill(sentence)
    first = box.locator(".try-list > li").first
    expect(first.locator("strong")).to_have_text(wanted[0]["name"])
    # Why: the words of the sentence and the synonym they matched, with their share; no raw score.
    expect(first.locator(".why .reason").first).to_contain_text(wanted[0]["why"][0]["phrase"])
    expect(first.locator(".why .reason").first).to_contain_text(re.compile(r"\d+%$"))
    expect(box).not_to_contain_text(re.compile(r"0\.\d{3}"))

    # An item opens its form, where its synonyms are edited.
    first.locator("button.try-item").click()
    expect(page.locator(".admin-split.catalogue .detail-pane h2")).to_have_text(wanted[0]["name"])
