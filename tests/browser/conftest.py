"""The console in a real browser: Debian's Chromium driven by Playwright against a live server.

One server for the whole browser suite (this package), started as ``make run`` does (migrate,
seed the demo, serve) on a temporary SQLite file; one Chromium; a fresh browser context (so a
fresh sign-in) per test. Any JavaScript error on the page (an uncaught exception or a console error) fails the test.

Without Chromium (or Playwright) the browser tests are skipped, unless ``REQUIRE_BROWSER=1`` is
set, which turns the skip into a failure: CI installs Chromium and sets it. Playwright cannot
download its own browser here, so the system's Chromium is launched (``SANSHE_TEST_CHROMIUM``
names another binary).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

try:
    from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
except ImportError:  # the dev extra brings it; without it the suite is skipped (or fails, see above)
    sync_playwright = None

REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER", "") not in ("", "0", "false")
BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
DEMO_PASSWORD = "demo1234"
CONSOLE_TZ = ZoneInfo("Asia/Shanghai")  # the browser's time zone: the console's periods are local days
DEMO_USERS = ("admin", "supervisor", "operator1", "operator2", "orgadmin", "worker")

# Deadlines, not expectations of speed: CI is a loaded 2-core machine.
SERVER_START_S = 180
WAIT_MS = 30_000

# Headless and quiet: without the background-networking flags Chromium keeps calling home, and
# this network is closed.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Without Playwright the test modules cannot even be imported: leave them out (and say so in the
# header), unless the browser tests are required, when the import error fails the run.
if sync_playwright is None and not REQUIRE_BROWSER:
    collect_ignore_glob = ["test_*.py"]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if sync_playwright is None and not REQUIRE_BROWSER:
        terminalreporter.write_line(
            "browser tests left out: Playwright is not installed (pip install -e '.[dev]')"
        )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the console in a real browser (Chromium)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            # The first test also waits for the server and the browser to start.
            item.add_marker(pytest.mark.timeout(SERVER_START_S + 300))


def find_chromium() -> str | None:
    wanted = os.environ.get("SANSHE_TEST_CHROMIUM")
    if wanted:
        return shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    missing = (
        "Playwright is not installed (pip install -e '.[dev]')"
        if sync_playwright is None
        else None
        if path
        else "Chromium not found (apt-get install chromium)"
    )
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"REQUIRE_BROWSER is set but {missing}")
        pytest.skip(missing)
    assert path is not None
    return path


# --- the server ---------------------------------------------------------------------------------

_phones = itertools.count(13911000001)


def fresh_phone() -> str:
    """A mobile number no other test (or the demo seed) uses: each test makes its own residents."""
    return str(next(_phones))


def national(mobile: str) -> str:
    """A mobile number as the console shows it: 139 1100 0001."""
    return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"


def masked(mobile: str) -> str:
    """A mobile number as lists show it to everyone (residents/privacy.py): 139****0001."""
    return f"{mobile[:3]}****{mobile[-4:]}"


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """The running demo server, and the HTTP API as any demo user (tokens are kept per user)."""

    url: str
    log: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self._tokens:
            r = httpx.post(
                f"{self.url}/api/v1/auth/token",
                data={"username": username, "password": DEMO_PASSWORD},
                timeout=60,
            )
            assert r.status_code == 200, r.text
            self._tokens[username] = r.json()["access_token"]
        return self._tokens[username]

    def api(self, username: str, method: str, path: str, **kw: Any) -> Any:
        """The JSON answer of one API call as ``username``; anything but 2xx fails the test."""
        r = httpx.request(
            method,
            f"{self.url}{path}",
            headers={"Authorization": f"Bearer {self.token(username)}"},
            timeout=60,
            **kw,
        )
        assert r.is_success, f"{method} {path} as {username}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def revealed(self, reason: str = "测试核对号码", **target: int) -> str:
        """The whole number behind a masked one, as an operator asks for it (recorded with the reason)."""
        out = self.api("operator1", "POST", "/api/v1/phones/reveal", json={**target, "reason": reason})
        return out["phones"][0]["e164"]

    def call_event(self, kind: str, call_id: str, **fields: Any) -> None:
        """Feed one normalised call event, as a PBX adapter would (POST /api/v1/telephony/events)."""
        self.api(
            "admin", "POST", "/api/v1/telephony/events", json={"type": kind, "call_id": call_id, **fields}
        )

    def ring(self, call_id: str, caller: str, ext: str | None, *, at: datetime | None = None) -> None:
        """The caller's call rings extension ``ext`` (None: waits in the queue): a screen pop."""
        self.call_event(
            "ringing",
            call_id,
            source="simulator",
            caller=caller,
            callee="12345",
            queue="hotline",
            operator_ext=ext,
            at=iso(at or now()),
        )

    def answered(self, call_id: str, caller: str, ext: str) -> None:
        """A call that rang ``ext``, was answered there and has ended (75 seconds of talk)."""
        start = now() - timedelta(seconds=90)
        answered = start + timedelta(seconds=5)
        self.ring(call_id, caller, ext, at=start)
        self.call_event("answered", call_id, source="simulator", operator_ext=ext, at=iso(answered))
        self.call_event(
            "ended",
            call_id,
            source="simulator",
            at=iso(answered + timedelta(seconds=75)),
            disposition="answered",
            hold_seconds=5,
            talk_seconds=75,
            caller=caller,
            queue="hotline",
            operator_ext=ext,
            started_at=iso(start),
            answered_at=iso(answered),
        )

    def unanswered(self, call_id: str, caller: str, disposition: str = "missed") -> None:
        """A call that rang in the queue and ended unanswered (missed, abandoned): a callback opens."""
        start = now() - timedelta(seconds=40)
        self.ring(call_id, caller, None, at=start)
        self.call_event(
            "ended",
            call_id,
            source="simulator",
            at=iso(start + timedelta(seconds=30)),
            disposition=disposition,
            hold_seconds=30,
            talk_seconds=0,
            caller=caller,
            queue="hotline",
            operator_ext=None,
            started_at=iso(start),
            answered_at=None,
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="package")
def live_server(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("browser-server")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
    env["SANSHE_DATABASE_URL"] = f"sqlite:///{workdir}/sanshe.db"
    env["SANSHE_SERVER__SIMULATOR"] = "false"
    # Open event streams re-check their account every 2 s (60 s by default), so a test sees a
    # deactivated account's console leave within its deadline.
    env["SANSHE_AUTH__STREAM_RECHECK_SECONDS"] = "2"
    # Open311 on (off by default): the 开放接口 tab's keys are tried against /open311/v2/.
    env["SANSHE_OPEN311__ENABLED"] = "true"
    for step in (["migrate"], ["seed-demo"]):
        done = subprocess.run(
            [str(BIN / "sanshe"), *step], env=env, cwd=workdir, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"sanshe {step[0]}: {done.stderr}"
    port = free_port()
    log = workdir / "server.log"
    # The access log goes to a file: a pipe nobody reads would fill up and stall the server.
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "sanshe"), "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=f"http://127.0.0.1:{port}", log=log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer /health within {SERVER_START_S} s:\n{server.log_tail()}"
                )
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


# --- the browser --------------------------------------------------------------------------------


# Package scope, not session: the server stops and Playwright lets go of the thread's event loop
# (which its sync API holds, so asyncio.run() elsewhere would refuse) once the browser tests are done.
@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, timeout=SERVER_START_S * 1000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class JsErrors:
    """Uncaught exceptions and console errors of a test's pages."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda err: self.seen.append(f"uncaught: {err}"))
        page.on("console", self._console)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.seen.append(f"console.error: {msg.text} ({msg.location.get('url', '')})")


@pytest.fixture
def js_errors() -> JsErrors:
    return JsErrors()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test whose pages raised a JavaScript error fails, even if all its assertions held."""
    result = yield
    errors = getattr(item, "funcargs", {}).get("js_errors")
    if errors is not None and errors.seen:
        raise AssertionError("JavaScript errors on the page:\n" + "\n".join(errors.seen))
    return result


@pytest.fixture
def new_page(browser: Browser, live_server: LiveServer, js_errors: JsErrors) -> Iterator[Callable[[], Page]]:
    """``new_page()``: a tab in a browser context of its own (its own sign-in), as many as a test
    needs (two people at two screens); all are watched for JavaScript errors and closed after."""
    contexts = []

    def _new_page() -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            locale="zh-CN",
            timezone_id=str(CONSOLE_TZ),
            viewport={"width": 1400, "height": 900},
        )
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        context.set_default_navigation_timeout(WAIT_MS)
        tab = context.new_page()
        js_errors.watch(tab)
        return tab

    expect.set_options(timeout=WAIT_MS)
    try:
        yield _new_page
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


def sign_in_on(page: Page, username: str, route: str = "") -> Page:
    """Open the console on ``page`` and sign in through its form as a demo user."""
    page.goto(f"/console/{route}")
    fill_sign_in(page, username)
    return page


def fill_sign_in(page: Page, username: str) -> None:
    """The sign-in form is shown: sign in as ``username`` and wait for the console."""
    form = page.locator("#signin-form")
    form.locator("input[name=username]").fill(username)
    form.locator("input[name=password]").fill(DEMO_PASSWORD)
    form.get_by_role("button", name="登录").click()
    expect(page.locator("#shell")).to_be_visible()
    expect(page.locator("#tabs .tab").first).to_be_visible()


@pytest.fixture
def sign_in(page: Page) -> Callable[..., Page]:
    """``sign_in("operator1")``: open the console and sign in through its form as a demo user."""

    def _sign_in(username: str, route: str = "") -> Page:
        return sign_in_on(page, username, route)

    return _sign_in
