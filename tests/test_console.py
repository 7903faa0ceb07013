"""The web console: served at /console/, complete, self-contained, and in step with the API.

The console is static files, so these tests read them as text: every asset the page loads
exists, every ``/api/v1/...`` path the JavaScript names is a path of the app's OpenAPI (this
catches typos and drift when an endpoint is renamed), and nothing is fetched from elsewhere
(deployments may be offline). The worker's phone app is installable: its manifest, icons and
service worker are served, and the service worker keeps every file of the shell.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dispatch.app import create_app
from dispatch.console import STATIC_DIR, mount_console
from dispatch.settings import Settings

TEXT_SUFFIXES = {".html", ".js", ".css"}
# An API path as the console writes it: literal segments, or ${…} where the OpenAPI has {param}.
API_PATH = re.compile(r"/api/v1(?:/(?:[\w.\-]+|\$\{[^}]*\}))*")
IMPORT = re.compile(r"""^\s*import\b[^;]*?from\s+["']([^"']+)["']""", re.MULTILINE)
ORDER_ACTION = re.compile(r"^/api/v1/orders/\{order_id\}/([\w-]+)$")
# main.js: `const TABS_BY_ROLE = { role: ["view", ...], ... };` and `const VIEWS = { view: {...}, ... };`
TABS_BY_ROLE = re.compile(r"const TABS_BY_ROLE = \{(.*?)\n\};", re.DOTALL)
ROLE_TABS = re.compile(r"^\s*(\w+): \[([^\]]*)\]", re.MULTILINE)
VIEWS = re.compile(r"const VIEWS = \{(.*?)\n\};", re.DOTALL)
VIEW_KEY = re.compile(r"^  (\w+): \{", re.MULTILINE)
# actions.js: `const ACTIONS = { dispatch: {...}, "check-in": {...}, complete: (order) => ..., ... };`
ACTIONS_TABLE = re.compile(r"const ACTIONS = \{(.*?)\n\};", re.DOTALL)
# order-detail.js: `export const EVENT_LABELS = { create: "受理", ... };` and the server's timeline codes
EVENT_LABELS = re.compile(r"const EVENT_LABELS = \{(.*?)\n\};", re.DOTALL)
RECORDED_ACTION = re.compile(r"""\baction=["'](\w+)["']""")
DISPATCH_DIR = STATIC_DIR.parents[1]
ACTION_KEY = re.compile(r'^  "?([\w-]+)"?: ', re.MULTILINE)
# capabilities.js: the API paths of a later server, which the console may name before it is served.
COMING_TABLE = re.compile(r"export const COMING = \{(.*?)\n\};", re.DOTALL)
QUOTED_PATH = re.compile(r'"(/api/v1/[^"]+)"')
# The one kind of outside address allowed: navigation links the worker taps (js/nav.js), never
# loaded by the console.
NAV_LINK_HOSTS = ("https://uri.amap.com/", "https://api.map.baidu.com/")
SW_SHELL = re.compile(r"const SHELL = \[(.*?)\n\];", re.DOTALL)


@pytest.fixture
def app(sqlite_url: str) -> FastAPI:
    # The console touches no database itself; one backend is enough.
    settings = Settings(
        database_url=sqlite_url,
        server={"tracking_loop": False, "simulator": False, "cache_check_seconds": 0},
        auth={"jwt_secret": "test-secret-test-secret-test-secret-0123"},
    )
    app = create_app(settings)
    mount_console(app)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def static_files(root: Path = STATIC_DIR, suffixes: set[str] = TEXT_SUFFIXES) -> list[Path]:
    """The text files of a static app (the console's, or the residents' app's)."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in suffixes)


def js_files(root: Path = STATIC_DIR) -> list[Path]:
    return [p for p in static_files(root) if p.suffix == ".js"]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith(("#", "data:")):
                self.refs.append(value)


def api_paths_in_js(root: Path = STATIC_DIR) -> dict[str, set[str]]:
    """Each API path the JavaScript names → the files naming it."""
    found: dict[str, set[str]] = {}
    for path in js_files(root):
        for match in API_PATH.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(0), set()).add(path.name)
    return found


def coming_paths() -> list[str]:
    table = COMING_TABLE.search((STATIC_DIR / "js" / "capabilities.js").read_text(encoding="utf-8"))
    assert table, "capabilities.js has no COMING table"
    return QUOTED_PATH.findall(table.group(1))


def matches(js_path: str, api_path: str) -> bool:
    mine, theirs = js_path.split("/"), api_path.split("/")
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs, strict=True):
        placeholder = a.startswith("${")
        param = b.startswith("{") and b.endswith("}")
        if placeholder != param or (not param and a != b):
            return False
    return True


def test_root_redirects_to_the_console(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/console/"


def test_console_serves_index_html(client: TestClient) -> None:
    response = client.get("/console/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="zh-CN">' in response.text
    assert 'type="module"' in response.text
    # Always revalidated, so an upgrade never runs next to yesterday's cached modules.
    assert response.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert client.get("/console", follow_redirects=True).url.path == "/console/"


def test_console_routes_stay_out_of_the_openapi(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert "/" not in paths
    assert not [p for p in paths if p.startswith("/console")]


def test_a_missing_asset_is_a_404(client: TestClient) -> None:
    response = client.get("/console/js/nope.js")
    assert response.status_code == 404


def test_every_asset_the_html_references_is_served(client: TestClient) -> None:
    parser = _Assets()
    parser.feed((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    assert parser.refs, "index.html references no assets"
    types = {".js": "javascript", ".css": "text/css", ".webmanifest": "application/manifest+json"}
    for ref in parser.refs:
        assert (STATIC_DIR / ref).is_file(), f"index.html references {ref}, which does not exist"
        response = client.get(f"/console/{ref}")
        assert response.status_code == 200, ref
        assert types[Path(ref).suffix] in response.headers["content-type"], ref


def assert_imports_resolve(root: Path) -> None:
    """Every module a static app imports is one of its own, and exists."""
    for path in js_files(root):
        for target in IMPORT.findall(path.read_text(encoding="utf-8")):
            assert target.startswith("./"), f"{path.name} imports {target}: only local modules"
            assert (path.parent / target).is_file(), f"{path.name} imports {target}, which does not exist"


def test_every_module_import_resolves() -> None:
    assert_imports_resolve(STATIC_DIR)


def test_every_api_path_in_the_javascript_exists(app: FastAPI) -> None:
    api_paths = list(app.openapi()["paths"])
    used = api_paths_in_js()
    assert len(used) >= 15, f"the path scan found too little: {sorted(used)}"
    coming = coming_paths()
    unknown = {
        p: sorted(files)
        for p, files in used.items()
        if not any(matches(p, a) for a in api_paths) and not (p in coming and files == {"capabilities.js"})
    }
    assert not unknown, f"API paths used by the console but not served: {unknown}"


# Paths under an order that are not action verbs: the ranked candidates, and the photos (uploads
# and images, for the worker's phone page rather than the console's action bar).
NOT_ACTIONS = frozenset({"candidates", "photos"})


def test_coming_paths_are_written_as_the_openapi_will_name_them() -> None:
    """capabilities.js looks its paths up in /openapi.json's paths, so they must be spelt alike."""
    coming = coming_paths()
    assert len(coming) >= 3
    for path in coming:
        assert re.fullmatch(r"/api/v1(/([\w-]+|\{[a-z_]+\}))+", path), path


def test_the_console_offers_every_order_action(app: FastAPI) -> None:
    verbs = {m.group(1) for p in app.openapi()["paths"] if (m := ORDER_ACTION.match(p))} - NOT_ACTIONS
    assert {"dispatch", "accept", "decline", "check-in", "complete", "rate"} <= verbs
    used = {
        p.rsplit("/", 1)[1]
        for p in api_paths_in_js()
        if re.fullmatch(r"/api/v1/orders/\$\{[^}]*\}/[\w-]+", p)
    }
    assert verbs <= used, f"order actions the console does not offer: {sorted(verbs - used)}"


def action_verbs_in_js() -> set[str]:
    """The verbs actions.js knows how to show: the keys of its ``const ACTIONS = {...};``."""
    block = ACTIONS_TABLE.search((STATIC_DIR / "js" / "actions.js").read_text(encoding="utf-8"))
    assert block, "actions.js no longer declares ACTIONS"
    return set(ACTION_KEY.findall(block.group(1)))


def test_every_order_action_has_a_label_and_form(app: FastAPI) -> None:
    """A verb the server may list in allowed_actions but the console cannot show is a missing button."""
    verbs = {m.group(1) for p in app.openapi()["paths"] if (m := ORDER_ACTION.match(p))} - NOT_ACTIONS
    assert action_verbs_in_js() == verbs


def test_the_console_takes_order_actions_from_the_server() -> None:
    """Who may do what in which status is the server's rule (allowed_actions), not a copy in the JS."""
    actions = (STATIC_DIR / "js" / "actions.js").read_text(encoding="utf-8")
    assert "allowed_actions" in actions
    copies = re.findall(
        r"^\s*(?:roles|when):|availableActions|\b(?:STAFF|SUPERVISORS|RESPONDERS)\b", actions, re.M
    )
    assert not copies, f"actions.js re-derives the server's rules: {copies}"


def timeline_actions() -> set[str]:
    """Every action code the server writes into an order's timeline: the state table's actions
    and the events recorded beside them (``record_event(..., action="urge")``)."""
    from dispatch.orders.state import Action

    recorded = {
        code
        for path in DISPATCH_DIR.rglob("*.py")
        if "benchmarks" not in path.parts and path.name != "cli.py"  # argparse's action="store_true"
        for code in RECORDED_ACTION.findall(path.read_text(encoding="utf-8"))
    }
    return {a.value for a in Action} | recorded


def test_every_timeline_action_has_a_chinese_label() -> None:
    block = EVENT_LABELS.search((STATIC_DIR / "js" / "order-detail.js").read_text(encoding="utf-8"))
    assert block, "order-detail.js no longer declares EVENT_LABELS"
    labelled = set(ACTION_KEY.findall(block.group(1)))
    codes = timeline_actions()
    assert {"create", "offer", "to_supervisor", "callback_requested"} <= codes, codes
    assert not codes - labelled, f"timeline actions shown as codes: {sorted(codes - labelled)}"


def tabs_by_role() -> dict[str, list[str]]:
    block = TABS_BY_ROLE.search((STATIC_DIR / "js" / "main.js").read_text(encoding="utf-8"))
    assert block, "main.js no longer declares TABS_BY_ROLE"
    return {role: re.findall(r'"(\w+)"', views) for role, views in ROLE_TABS.findall(block.group(1))}


def test_every_tab_is_a_view() -> None:
    main = (STATIC_DIR / "js" / "main.js").read_text(encoding="utf-8")
    block = VIEWS.search(main)
    assert block, "main.js no longer declares VIEWS"
    views = set(VIEW_KEY.findall(block.group(1)))
    tabs = tabs_by_role()
    assert set(tabs) == {"admin", "supervisor", "operator", "org_admin", "worker"}
    assert not {t for ts in tabs.values() for t in ts} - views, f"tabs without a view: {tabs} vs {views}"


def test_the_admin_tab_is_for_admins_and_organisation_admins() -> None:
    assert {role for role, tabs in tabs_by_role().items() if "admin" in tabs} == {"admin", "org_admin"}


def test_the_admin_view_edits_what_admins_manage(app: FastAPI) -> None:
    """Users, providers, the calendar and the catalogue can be changed from 管理, not only /docs."""
    used = {p for p, files in api_paths_in_js().items() if any(f.startswith("admin") for f in files)}
    wanted = [
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/providers",
        "/api/v1/providers/{provider_id}",
        "/api/v1/calendar",
        "/api/v1/calendar/{day}",
        "/api/v1/calendar/coverage",
        "/api/v1/calendar/periods",
        "/api/v1/calendar/years/{year}",
        "/api/v1/catalogue/items/{code}",
        "/api/v1/catalogue/categories/{code}",
        "/api/v1/outbox",
        "/api/v1/outbox/{message_id}/resend",
        "/api/v1/outbox/{message_id}/drop",
        "/api/v1/telephony/inbox",
        "/api/v1/telephony/inbox/{inbox_id}/retry",
    ]
    assert set(wanted) <= set(app.openapi()["paths"])
    missing = [w for w in wanted if not any(matches(p, w) for p in used)]
    assert not missing, f"the admin modules do not use {missing}"


def test_the_path_scan_reads_template_literals() -> None:
    assert matches("/api/v1/orders/${o.id}/check-in", "/api/v1/orders/{order_id}/check-in")
    assert not matches("/api/v1/orders/${o.id}/checkin", "/api/v1/orders/{order_id}/check-in")
    assert not matches("/api/v1/orders/candidates", "/api/v1/orders/{order_id}")
    assert [
        m.group(0) for m in API_PATH.finditer('x(`/api/v1/events?access_token=${t}`) "GET /api/v1/me:"')
    ] == [
        "/api/v1/events",
        "/api/v1/me",
    ]


def test_nothing_is_loaded_from_elsewhere() -> None:
    external = re.compile(r"https?://|(?:src|href)\s*=\s*[\"']//|url\(\s*[\"']?//|@import", re.IGNORECASE)

    def text(p: Path) -> str:
        content = p.read_text(encoding="utf-8")
        if p.name == "nav.js":
            for host in NAV_LINK_HOSTS:
                content = content.replace(f"href, `{host}", "").replace(f"`{host}", "")
        if "vendor" in p.parts:  # XML namespace names and licence URLs are identifiers, not loads
            content = re.sub(r"http://www\.w3\.org/[\w/.]+|https?://[\w./-]+LICENSE[\w.-]*", "", content)
        return content

    offenders = {
        p.relative_to(STATIC_DIR).as_posix(): sorted(set(external.findall(text(p)))) for p in static_files()
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


NO_NODE = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def assert_modules_parse(root: Path, tmp_path: Path) -> None:
    """A syntax error would blank a whole app; ``node --check`` finds it without a browser."""
    for path in js_files(root):
        copy = tmp_path / f"{path.stem}.mjs"  # .mjs: parsed as an ES module
        copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        result = subprocess.run(["node", "--check", str(copy)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"


@NO_NODE
def test_every_module_parses(tmp_path: Path) -> None:
    assert_modules_parse(STATIC_DIR, tmp_path)


def test_the_worker_app_is_installable(client: TestClient) -> None:
    response = client.get("/console/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"] == "社区服务·工作端"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "./#/mine" and manifest["scope"] == "./"
    assert manifest["theme_color"]
    for icon in manifest["icons"]:
        served = client.get(f"/console/{icon['src']}")
        assert served.status_code == 200, icon
        assert served.headers["content-type"].startswith("image/svg+xml")
    sw = client.get("/console/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    # At the top of /console/: its default scope is the whole console.
    assert "service-worker-allowed" not in sw.headers


SHELL_SUFFIXES = {".html", ".js", ".css", ".svg", ".webmanifest"}


def assert_worker_keeps_the_shell(root: Path) -> None:
    """A static app's sw.js lists every file of the app in SHELL, none that is missing, no API."""
    shell = SW_SHELL.search((root / "sw.js").read_text(encoding="utf-8"))
    assert shell, "sw.js has no SHELL list"
    listed = set(json.loads(f"[{shell.group(1).rstrip().rstrip(',')}]"))
    files = {p.relative_to(root).as_posix() for p in static_files(root, SHELL_SUFFIXES) if p.name != "sw.js"}
    assert files - listed == set(), "files the offline app shell lacks (add them to SHELL in sw.js)"
    assert listed - files - {"./"} == set(), "SHELL names files that do not exist"
    assert not [p for p in listed if p.startswith("/") or "/api/" in p]


def test_the_service_worker_keeps_the_whole_shell_and_no_api() -> None:
    assert_worker_keeps_the_shell(STATIC_DIR)
