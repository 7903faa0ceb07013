"""End to end, as `make run` does it: migrate, seed the demo, serve over real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.waiting import wait_until

BIN = Path(sys.executable).parent
START_DEADLINE = 180.0
# The module's server is started (migrate, seed, serve) inside the first test's time.
pytestmark = pytest.mark.timeout(600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
    env["SANSHE_DATABASE_URL"] = f"sqlite:///{workdir}/sanshe.db"
    env["SANSHE_SERVER__SIMULATOR"] = "false"
    for step in (["migrate"], ["seed-demo"]):
        done = subprocess.run(
            [str(BIN / "sanshe"), *step], env=env, cwd=workdir, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "sanshe"), "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(
                f"the server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            return httpx.get(f"{base}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        # A loaded 2-core CI machine may take a while to import and start: wait generously.
        if not wait_until(up, timeout=START_DEADLINE, interval=0.1):
            pytest.fail(f"the server did not answer /health within {START_DEADLINE:.0f} s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def token(base: str, username: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": "demo1234"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_health_docs_and_openapi(server: str) -> None:
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    assert httpx.get(f"{server}/docs").status_code == 200
    assert "/api/v1/orders" in httpx.get(f"{server}/openapi.json").json()["paths"]


def test_demo_accounts_catalogue_and_providers(server: str) -> None:
    headers = token(server, "operator1")
    catalogue = httpx.get(f"{server}/api/v1/catalogue", headers=headers).json()
    assert len(catalogue["categories"]) == 12 and catalogue["total"] == 120
    providers = httpx.get(f"{server}/api/v1/providers", params={"limit": 500}, headers=headers).json()
    assert set(providers) == {"items", "total"}
    assert providers["total"] > 150 and len(providers["items"]) == providers["total"]
    for user in ("admin", "supervisor", "operator2", "orgadmin", "worker"):
        assert httpx.get(f"{server}/api/v1/me", headers=token(server, user)).json()["username"] == user


def test_a_call_becomes_a_located_dispatched_order(server: str) -> None:
    headers = token(server, "operator1")
    r = httpx.post(
        f"{server}/api/v1/orders",
        json={
            "caller_phone": "13800138000",
            "description": "我家卫生间水管裂了一直在漏水",
            "address": "文二路168号 翠苑一区 3幢2单元501室",
            "channel": "phone",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["item_code"] == "HOME-01" and order["location_precision"] == "building"
    assert order["status"] == "offered" and order["provider_id"] is not None
    history = httpx.get(f"{server}/api/v1/orders", params={"limit": 5}, headers=headers).json()
    assert history["total"] > 2000
