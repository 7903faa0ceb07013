"""A half-typed order is a draft in the browser: it survives an expired sign-in, and a second
caller's pop asks before it takes the form."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import JsErrors, LiveServer, fill_sign_in, fresh_phone, national

DRAFTS_OF_OPERATOR2 = "sanshe.drafts.operator2"


def test_a_draft_survives_an_expired_sign_in(
    page: Page, sign_in, live_server: LiveServer, js_errors: JsErrors
) -> None:
    sign_in("operator2")
    form = page.locator("section.view.desk section.intake form")
    phone = fresh_phone()
    form.locator("input[name=caller_phone]").fill(phone)
    form.locator("input[name=resident_name]").fill("草稿测试")
    form.locator("textarea[name=description]").fill("楼道的灯坏了，晚上看不见")

    # The session ends under the operator (the server no longer knows the token), and the next
    # request finds out: back to sign-in.
    page.evaluate("sessionStorage.setItem('sanshe.token', 'expired-or-revoked')")
    page.locator("#tabs .tab", has_text="工单").click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_have_text("登录已过期，请重新登录")

    fill_sign_in(page, "operator2")
    page.locator("#tabs .tab", has_text="坐席").click()
    form = page.locator("section.view.desk section.intake form")
    expect(form.locator("input[name=caller_phone]")).to_have_value(phone)
    expect(form.locator("input[name=resident_name]")).to_have_value("草稿测试")
    expect(form.locator("textarea[name=description]")).to_have_value("楼道的灯坏了，晚上看不见")
    expect(form.locator(".intake-notice")).to_contain_text("已恢复未提交的草稿")

    # Once the order exists the draft is gone.
    form.locator(".suggestions button.suggestion").first.click()
    form.locator("button[type=submit]").click()
    expect(page.locator("section.view.desk section.created .number")).to_be_visible()
    assert page.evaluate(f"localStorage.getItem('{DRAFTS_OF_OPERATOR2}')") is None

    # The browser logged the requests the server refused while the token was bad: this test's
    # doing, not the console's fault.
    refused = [e for e in js_errors.seen if "status of 401 (Unauthorized)" in e]
    assert refused, js_errors.seen
    js_errors.seen[:] = [e for e in js_errors.seen if e not in refused]


def test_a_second_caller_does_not_replace_a_draft(page: Page, sign_in, live_server: LiveServer) -> None:
    sign_in("operator2")  # extension 1002
    desk = page.locator("section.view.desk")
    form = desk.locator("section.intake form")
    first, second = fresh_phone(), fresh_phone()
    live_server.ring(f"D1-{uuid.uuid4().hex[:8]}", first, "1002")
    expect(form.locator("input[name=caller_phone]")).to_have_value(national(first))
    form.locator("textarea[name=description]").fill("第一位来电：想问问居家养老服务怎么申请")

    # The second caller rings while the first one's form is half typed: asked, not replaced.
    live_server.ring(f"D2-{uuid.uuid4().hex[:8]}", second, "1002")
    conflict = form.locator(".conflict")
    expect(conflict).to_contain_text(f"新来电 {national(second)}")
    expect(form.locator("textarea[name=description]")).to_have_value("第一位来电：想问问居家养老服务怎么申请")

    conflict.get_by_role("button", name="保存草稿并接听新来电").click()
    expect(form.locator("input[name=caller_phone]")).to_have_value(national(second))
    expect(form.locator("textarea[name=description]")).to_have_value("")

    # The first caller's draft is listed, and opens again as it was.
    drafts = form.locator("details.drafts")
    expect(drafts.locator("summary")).to_have_text("草稿 (1)")
    drafts.locator("summary").click()
    drafts.locator(".draft-list button.link").first.click()
    expect(form.locator("input[name=caller_phone]")).to_have_value(national(first))
    expect(form.locator("textarea[name=description]")).to_have_value("第一位来电：想问问居家养老服务怎么申请")
