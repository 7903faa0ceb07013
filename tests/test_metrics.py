"""/metrics: what it counts (by route template), what it reads from the database, who may read it,
and several processes adding up into one scrape (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import dispatch
from dispatch.app import create_app
from dispatch.db import make_engine, make_sessionmaker
from dispatch.ops.metrics import DatabaseCollector, ProcessState, render
from dispatch.settings import Settings
from models import OutboxChannel, OutboxMessage, OutboxStatus
from tests.factories import load_catalogue, make_small_district
from tests.support.waiting import wait_until

SOURCE = str(Path(dispatch.__file__).resolve().parents[1])
LOCAL = ("127.0.0.1", 50000)
METRICS_TOKEN = "scrape-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of an exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client: TestClient, **headers: str) -> str:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.text
    return r.text


@pytest.fixture
def client(app):
    """The app's client, connecting from 127.0.0.1: inside the default ``[metrics] allow``."""
    with TestClient(app, client=LOCAL) as c:
        yield c


@pytest.fixture
def district(session_factory) -> None:
    with session_factory() as s:
        load_catalogue(s)
        make_small_district(s)
        s.commit()


def test_requests_are_counted_by_route_template_and_the_database_is_read(
    client, district, operator, session_factory
) -> None:
    local = client
    before = scrape(local)
    for order_id in (48151, 62342):
        assert local.get(f"/api/v1/orders/{order_id}", headers=operator).status_code == 404
    assert local.get("/no/such/page/93813").status_code == 404
    assert local.get("/api/v1/me", headers=operator).status_code == 200  # a router with a prefix
    r = local.post(
        "/api/v1/orders",
        json={
            "caller_phone": "13912345678",
            "description": "水管漏水",
            "resident_name": "欧阳娜娜",
            "channel": "phone",
        },
        headers=operator,
    )
    assert r.status_code == 201, r.text
    with session_factory() as s:
        s.add(
            OutboxMessage(
                channel=OutboxChannel.SMS,
                recipient="+8613912345678",
                body="您的工单已受理",
                status=OutboxStatus.PENDING,
                created_at=datetime.now(UTC) - timedelta(minutes=10),
            )
        )
        s.commit()
    after = scrape(local)

    def grew(**labels: str) -> float:
        name = "sanshe_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    template = "/api/v1/orders/{order_id}"
    assert grew(method="GET", route=template, status="404") == 2
    assert grew(method="GET", route="unmatched", status="404") == 1
    assert grew(method="POST", route="/api/v1/orders", status="201") == 1
    assert grew(method="GET", route="/api/v1/me", status="200") == 1
    assert value(after, "sanshe_http_request_duration_seconds_count", method="GET", route=template) >= 2
    # No raw path, id, name or phone number anywhere in the scrape.
    # (A number as a whole: a sample's value, e.g. a timestamp, may hold the same digits.)
    for leak in ("48151", "62342", "93813", "/no/such", "13912345678", "欧阳娜娜"):
        assert not re.search(rf"(?<![\w.]){re.escape(leak)}(?![\w.])", after), leak
    assert value(after, "sanshe_metrics_database_up") == 1
    assert value(after, "sanshe_orders", status=r.json()["status"]) == 1
    assert value(after, "sanshe_orders", status="cancelled") == 0  # every status, also at zero
    assert value(after, "sanshe_outbox_pending") >= 1
    assert value(after, "sanshe_outbox_oldest_pending_age_seconds") >= 600


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_refused_from_other_addresses_and_opened_by_the_token(settings) -> None:
    settings = settings.model_copy(
        update={
            "metrics": settings.metrics.model_copy(update={"token": METRICS_TOKEN}),
            "server": settings.server.model_copy(update={"trusted_proxies": ["127.0.0.1"]}),
        }
    )
    app = create_app(settings)
    with TestClient(app, client=("203.0.113.9", 4000)) as outside, TestClient(app, client=LOCAL) as proxy:
        r = outside.get("/metrics")
        assert r.status_code == 403
        assert r.json()["message"] == "无权读取监控指标：请从允许的地址访问，或携带正确的监控令牌"
        assert "sanshe_" not in r.text
        assert outside.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 403
        assert outside.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}).status_code == 403
        assert "sanshe_http_requests_total" in scrape(outside, Authorization=f"Bearer {METRICS_TOKEN}")
        # Relayed by the trusted proxy on 127.0.0.1: judged by the client it relays, not the proxy.
        assert proxy.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
        assert proxy.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
        assert proxy.get("/metrics").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_empty_token_opens_nothing(settings) -> None:
    with TestClient(create_app(settings), client=("203.0.113.9", 4000)) as outside:
        assert outside.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403
        assert outside.get("/metrics", headers={"Authorization": "Bearer"}).status_code == 403


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_instance_running_the_tracking_loop_says_so(settings) -> None:
    settings = settings.model_copy(
        update={"server": settings.server.model_copy(update={"tracking_loop": True})}
    )
    app = create_app(settings)
    with TestClient(app, client=LOCAL) as local:
        assert wait_until(lambda: value(scrape(local), "sanshe_tracking_lease_held") == 1)
        assert value(scrape(local), "sanshe_event_stream_clients") == 0
    # Stopped, its lease released: a server without the loop says 0.
    without = settings.model_copy(
        update={"server": settings.server.model_copy(update={"tracking_loop": False})}
    )
    with TestClient(create_app(without), client=LOCAL) as local:
        assert value(scrape(local), "sanshe_tracking_lease_held") == 0


def test_process_state_samples_streams_and_the_ami_session() -> None:
    from prometheus_client import REGISTRY, generate_latest

    connected = [False]
    state = ProcessState(stream_clients=lambda: 3, ami=("pbx.local:5038", lambda: connected[0]))
    state.sample()
    text = generate_latest(REGISTRY).decode()
    assert value(text, "sanshe_event_stream_clients") == 3
    assert value(text, "sanshe_ami_connected", server="pbx.local:5038") == 0
    connected[0] = True
    state.sample()
    assert value(generate_latest(REGISTRY).decode(), "sanshe_ami_connected", server="pbx.local:5038") == 1
    state.stop()
    text = generate_latest(REGISTRY).decode()
    assert value(text, "sanshe_event_stream_clients") == 0
    assert value(text, "sanshe_ami_connected", server="pbx.local:5038") == 0


# Processes of their own with PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported,
# as under uvicorn --workers. APP answers `requests` order lookups through the app (and prints a
# scrape of /metrics with "scrape"); STREAMS reports `n` stream clients through ProcessState, says
# "ready" and leaves as a stopping server does (ProcessState.stop) on a line on stdin.
APP = textwrap.dedent(
    """
    import sys
    from fastapi.testclient import TestClient
    from dispatch.app import create_app
    from dispatch.settings import Settings

    url, requests, scrape = sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["scrape"]
    settings = Settings(
        database_url=url,
        server={"tracking_loop": False, "simulator": False},
        auth={"jwt_secret": "test-secret-test-secret-test-secret-0123"},
    )
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        for n in range(requests):
            assert client.get(f"/api/v1/orders/{n + 1}").status_code == 401
        if scrape:
            r = client.get("/metrics")
            assert r.status_code == 200, r.text
            print(r.text, flush=True)
    """
)
STREAMS = textwrap.dedent(
    """
    import sys
    from dispatch.ops.metrics import ProcessState

    state = ProcessState(stream_clients=lambda: int(sys.argv[1]))
    state.sample()
    print("ready", flush=True)
    sys.stdin.readline()
    state.stop()
    """
)


def test_several_processes_add_up_in_one_scrape(sqlite_url: str, tmp_path: Path, monkeypatch) -> None:
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
    env |= {
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "PYTHONPATH": os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p),
    }

    def run_app(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", APP, sqlite_url, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def streams(n: int) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", STREAMS, str(n)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        return proc

    run_app("3")  # a worker that served and stopped: its counts stay, its live gauges go
    holders = [streams(2), streams(5)]
    try:
        out = run_app("4", "scrape")
        template = "/api/v1/orders/{order_id}"
        # Both app processes' requests in one scrape, each process having written its own file.
        assert value(out, "sanshe_http_requests_total", method="GET", route=template, status="401") == 7
        assert value(out, "sanshe_http_request_duration_seconds_count", method="GET", route=template) == 7
        # Stream clients of the live processes are summed (the scraping one has none).
        assert value(out, "sanshe_event_stream_clients") == 7
        # The database gauges come once, from the process answering.
        assert value(out, "sanshe_metrics_database_up") == 1
        holders[0].communicate("stop\n", timeout=60)
        assert holders[0].returncode == 0
        # A process that stopped cleanly leaves the sum; what was counted stays.
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        engine = make_engine(sqlite_url)
        try:
            text = render(DatabaseCollector(make_sessionmaker(engine), lambda: datetime.now(UTC)))[0].decode()
        finally:
            engine.dispose()
        assert value(text, "sanshe_event_stream_clients") == 5
        assert value(text, "sanshe_http_requests_total", method="GET", route=template, status="401") == 7
    finally:
        for holder in holders:
            if holder.poll() is None:
                holder.communicate("stop\n", timeout=60)


def test_settings_refuse_a_bad_allow_entry() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not an IP address or network"):
        Settings(metrics={"allow": ["localhost"]})
