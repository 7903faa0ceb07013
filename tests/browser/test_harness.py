"""The harness itself: it sees a page's JavaScript errors, so the other tests fail on them."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import JsErrors


def test_page_errors_are_seen(page: Page, js_errors: JsErrors) -> None:
    page.goto("/console/")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('deliberate'); }, 0)")
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("console.error('also deliberate')")
    assert [e.split(":")[0] for e in js_errors.seen] == ["uncaught", "console.error"], js_errors.seen
    assert all("deliberate" in e for e in js_errors.seen), js_errors.seen
    js_errors.seen.clear()  # seen, as it should be: not a failure of this test
