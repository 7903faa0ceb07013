"""The residents' web app: served at /r/, complete, self-contained, in step with the residents' API,
and installable on its own (manifest and service worker scoped to /r/).

Like tests/test_console.py (whose scanners and fixtures it uses), these tests read the static
files as text; tests/browser/test_resident_app.py drives the app in Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dispatch.residentapp import STATIC_DIR
from tests import test_console
from tests.test_console import (
    NO_NODE,
    SHELL_SUFFIXES,
    _Assets,
    api_paths_in_js,
    assert_imports_resolve,
    assert_modules_parse,
    assert_worker_keeps_the_shell,
    js_files,
    matches,
    static_files,
)

# The console's fixtures: the app on one SQLite database (the static files touch none) and its client.
app = test_console.app
client = test_console.client


def test_r_goes_to_the_app(client: TestClient) -> None:
    response = client.get("/r", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/r/"


def test_the_app_is_served_like_the_console(client: TestClient) -> None:
    response = client.get("/r/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<html lang="zh-CN">' in response.text
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/r/js/nope.js").status_code == 404


def test_the_app_stays_out_of_the_openapi(app: FastAPI) -> None:
    assert not [p for p in app.openapi()["paths"] if p == "/r" or p.startswith("/r/")]


def test_every_asset_the_html_references_is_served(client: TestClient) -> None:
    parser = _Assets()
    parser.feed((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    assert len(parser.refs) >= 4, parser.refs
    types = {
        ".js": "javascript",
        ".css": "text/css",
        ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml",
    }
    for ref in parser.refs:
        response = client.get(f"/r/{ref}")
        assert response.status_code == 200, ref
        assert types[Path(ref).suffix] in response.headers["content-type"], ref


def test_no_inline_script_or_style() -> None:
    """The Content Security Policy refuses them: the page would silently lose them."""
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"<style|\sstyle=|\son\w+=", html)
    for path in js_files(STATIC_DIR):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|\.style\.|eval\(|new Function", text), (
            path.name
        )


def test_every_module_import_resolves() -> None:
    assert_imports_resolve(STATIC_DIR)


def test_every_api_path_in_the_javascript_exists(app: FastAPI) -> None:
    api_paths = list(app.openapi()["paths"])
    used = api_paths_in_js(STATIC_DIR)
    assert len(used) >= 12, f"the path scan found too little: {sorted(used)}"
    assert not [p for p in used if not p.startswith("/api/v1/r/")], "the app talks to the residents' API only"
    unknown = {p: sorted(f) for p, f in used.items() if not any(matches(p, a) for a in api_paths)}
    assert not unknown, f"API paths used by the residents' app but not served: {unknown}"


def test_nothing_is_loaded_from_elsewhere() -> None:
    external = re.compile(
        r"https?://(?!www\.w3\.org/2000/svg\b)|(?:src|href)\s*=\s*[\"']//|url\(\s*[\"']?//|@import", re.I
    )
    offenders = {
        p.name: external.findall(p.read_text(encoding="utf-8"))
        for p in static_files(STATIC_DIR, SHELL_SUFFIXES)
    }
    assert not {k: v for k, v in offenders.items() if v}, offenders


@NO_NODE
def test_every_module_parses(tmp_path: Path) -> None:
    assert_modules_parse(STATIC_DIR, tmp_path)


def test_the_app_is_installable_on_its_own(client: TestClient) -> None:
    response = client.get("/r/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["name"] == "社区服务·居民求助" and manifest["lang"] == "zh-CN"
    assert manifest["display"] == "standalone"
    # Relative to /r/manifest.webmanifest: the app and nothing of the console's.
    assert manifest["scope"] == "./" and manifest["start_url"] == "./"
    assert {i["purpose"] for i in manifest["icons"]} == {"any", "maskable"}
    for icon in manifest["icons"]:
        served = client.get(f"/r/{icon['src']}")
        assert served.status_code == 200 and served.headers["content-type"].startswith("image/svg+xml")
    sw = client.get("/r/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    assert "service-worker-allowed" not in sw.headers  # at the top of /r/: its scope is the app


def test_the_service_worker_keeps_the_whole_shell_and_no_api() -> None:
    assert_worker_keeps_the_shell(STATIC_DIR)
    text = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    # One shell worker for both apps (the console serves it); each keeps its files in caches of
    # its own prefix and deletes only those (cache storage is the origin's, shared by both).
    assert 'importScripts("/console/shell-worker.js")' in text
    assert 'keepShell({ prefix: "sanshe-resident-shell-", version: "v1", files: SHELL })' in text
    console = STATIC_DIR.parents[1] / "console" / "static"
    assert 'keepShell({ prefix: "sanshe-shell-", version: "v1", files: SHELL })' in (
        console / "sw.js"
    ).read_text(encoding="utf-8")
    assert "name.startsWith(prefix) && name !== current" in (console / "shell-worker.js").read_text(
        encoding="utf-8"
    )


def test_the_shell_worker_is_served_to_the_apps_worker(client: TestClient) -> None:
    response = client.get("/console/shell-worker.js")
    assert response.status_code == 200 and "javascript" in response.headers["content-type"]
