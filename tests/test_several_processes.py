"""Several `sanshe serve` processes on one PostgreSQL, as an operator runs them: the tracking lease
fails over in seconds, a PostgreSQL restart answers 503 (never 500) and loses nothing acknowledged,
and `--workers 2` serves. Real processes on a cluster of the module's own, because the tests restart
it and read its server log.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from dispatch import migrate
from dispatch.db import make_engine, make_sessionmaker
from dispatch.outbox import messages
from dispatch.ports import Recipient
from dispatch.settings import Settings
from models import Lease, Order, OutboxMessage, OutboxStatus, Role
from tests.conftest import REQUIRE_POSTGRES
from tests.factories import bearer, load_catalogue, make_small_district, make_user
from tests.support.postgres import TempPostgres
from tests.support.waiting import DEADLINE, wait_until

ROOT = Path(__file__).resolve().parent.parent  # the code under test, whichever checkout runs it
JWT_SECRET = "test-secret-test-secret-test-secret-0123"
START_DEADLINE = 180.0
# Design: a dead holder's lease runs out within lease_seconds (10), a fifth later another has it: 12 s
# at worst, which leaves the jobs 8 s on a loaded machine.
FAILOVER_DEADLINE = 20.0
pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]
_names = itertools.count()


@pytest.fixture(scope="module")
def cluster() -> Iterator[TempPostgres]:
    if os.environ.get("SANSHE_TEST_POSTGRES_URL"):
        pytest.skip("these tests restart PostgreSQL and read its log: they start a cluster of their own")
    pg = None
    try:
        pg = TempPostgres()
        pg.start()
    except Exception as exc:
        if pg is not None:
            pg.stop()
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES is set but PostgreSQL could not be started: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield pg
    pg.stop()


@pytest.fixture
def database(cluster: TempPostgres) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated database with the catalogue and the small district; its URL and an operator's headers."""
    server_url = f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres"
    name = f"several_{os.getpid()}_{next(_names)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # outlives a restart
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        load_catalogue(s)
        make_small_district(s)
        operator = make_user(s, role=Role.OPERATOR)
        s.commit()
        headers = bearer(operator, Settings(database_url=url, auth={"jwt_secret": JWT_SECRET}))
    engine.dispose()
    yield url, headers
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `sanshe serve` process running this checkout's code (PYTHONPATH is the repository root)."""

    def __init__(self, url: str, workdir: Path, *, name: str, args: tuple[str, ...] = (), **env: str) -> None:
        self.name, self.port = name, free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
        environ.update(
            PYTHONPATH=str(ROOT),
            SANSHE_DATABASE_URL=url,
            SANSHE_SERVER__INSTANCE_NAME=name,
            SANSHE_SERVER__SIMULATOR="false",
            SANSHE_SERVER__CACHE_CHECK_SECONDS="0",
            SANSHE_TRACKING__TICK_SECONDS="1",
            SANSHE_AUTH__JWT_SECRET=JWT_SECRET,
            **env,
        )
        self.log = workdir / f"{name}-{self.port}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(self.port), *args],
                env=environ,
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.base = f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.base}/health/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self) -> Server:
        if not wait_until(self.ready, timeout=START_DEADLINE, interval=0.1):
            pytest.fail(f"{self.name} was not ready within {START_DEADLINE:.0f} s")
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.kill()


def lease(url: str, name: str = "tracking") -> Lease | None:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return s.get(Lease, name)
    finally:
        engine.dispose()


def add_notice(url: str) -> int:
    """An outbox row for the tracking loop's last job to send: the jobs ran when it is sent."""
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            row = messages.notice(Recipient.role("admin"), "测试通知", kind="test", now=datetime.now(UTC))
            s.add(row)
            s.commit()
            return row.id
    finally:
        engine.dispose()


def sent(url: str, message_id: int) -> bool:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return (
                s.scalar(select(OutboxMessage.status).where(OutboxMessage.id == message_id))
                == OutboxStatus.SENT
            )
    finally:
        engine.dispose()


def lease_errors(cluster: TempPostgres) -> list[str]:
    return [
        line
        for line in cluster.log_path.read_text().splitlines()
        if "pk_lease" in line or "lease_pkey" in line
    ]


def test_the_lease_moves_at_once_on_a_clean_stop_and_within_seconds_after_kill_9(
    database, cluster, servers, tmp_path
) -> None:
    url, _ = database
    a = Server(url, tmp_path, name="a")
    servers.append(a)
    a.wait_ready()
    assert wait_until(lambda: (row := lease(url)) is not None and row.holder == "a")
    b = Server(url, tmp_path, name="b")
    servers.append(b)
    b.wait_ready()
    first = add_notice(url)
    assert wait_until(lambda: sent(url, first))  # a runs the jobs; b, asking every 3 s, does not
    assert lease(url).holder == "a"

    a.stop()  # a clean stop gives the lease up on the way out
    row = lease(url)
    assert row.holder == "b" or row.expires_at < datetime.now(UTC)
    assert wait_until(lambda: lease(url).holder == "b", timeout=DEADLINE)

    a = Server(url, tmp_path, name="a")  # back as the stand-by
    servers.append(a)
    a.wait_ready()
    b.kill()
    killed = time.monotonic()
    after_kill = add_notice(url)
    took_over = wait_until(
        lambda: lease(url).holder == "a" and sent(url, after_kill), timeout=FAILOVER_DEADLINE, interval=0.1
    )
    seconds = time.monotonic() - killed
    print(f"\nfailover after kill -9: the jobs ran on the other instance {seconds:.1f} s later")
    assert took_over, f"no failover within {FAILOVER_DEADLINE:.0f} s"
    # Every tick, the instance without the lease asked for it: none wrote an error in PostgreSQL's log.
    assert lease_errors(cluster) == []


def test_a_restarted_instance_takes_its_own_lease_back_at_once(database, cluster, servers, tmp_path) -> None:
    url, _ = database
    # A long lease: taken back before it runs out shows the row was recognised, not expired.
    long_lease = {"SANSHE_TRACKING__LEASE_SECONDS": "300"}
    a = Server(url, tmp_path, name="a", **long_lease)
    servers.append(a)
    a.wait_ready()
    assert wait_until(lambda: (row := lease(url)) is not None and row.holder == "a")
    a.kill()
    held_until = lease(url).expires_at
    again = Server(url, tmp_path, name="a", **long_lease)
    servers.append(again)
    again.wait_ready()
    message = add_notice(url)
    assert wait_until(lambda: sent(url, message))
    assert datetime.now(UTC) < held_until
    assert lease_errors(cluster) == []


def intake(base: str, headers: dict[str, str], i: int) -> httpx.Response:
    payload = {
        "caller_phone": f"1390000{i % 10000:04d}",
        "description": "厨房水管漏水",
        "item_code": "HOME-01",
        "channel": "phone",
        "address": "阳光花园3幢",
    }
    return httpx.post(f"{base}/api/v1/orders", json=payload, headers=headers, timeout=30)


def test_a_postgresql_restart_answers_503_and_loses_nothing(database, cluster, servers, tmp_path) -> None:
    url, headers = database
    server = Server(url, tmp_path, name="c", args=("--no-tracking",))
    servers.append(server)
    server.wait_ready()
    answers: list[httpx.Response] = []
    stop = threading.Event()

    def stream() -> None:
        for i in itertools.count():
            if stop.is_set():
                return
            answers.append(intake(server.base, headers, i))

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        assert wait_until(lambda: sum(r.status_code == 201 for r in answers) >= 5)
        cluster.pause()
        try:
            assert wait_until(lambda: any(r.status_code == 503 for r in answers))
        finally:
            cluster.resume()
        recovered = len(answers)
        assert wait_until(lambda: sum(r.status_code == 201 for r in answers[recovered:]) >= 5)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert {r.status_code for r in answers} <= {201, 503}, [(r.status_code, r.text) for r in answers]
    refused = [r for r in answers if r.status_code == 503]
    assert all(r.headers.get("Retry-After") for r in refused)
    assert refused[0].json()["error"] == "database_unavailable"
    assert refused[0].json()["message"] == "数据库暂时不可用，请稍后再试"
    acknowledged = {r.json()["id"] for r in answers if r.status_code == 201}
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        stored = set(s.scalars(select(Order.id).where(Order.id.in_(acknowledged))))
    engine.dispose()
    assert stored == acknowledged
    server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log  # one line per outage, not a traceback per request
    assert 1 <= log.count("database unavailable") <= 3


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def test_two_workers_serve_on_postgresql(database, servers, tmp_path) -> None:
    url, headers = database
    server = Server(url, tmp_path, name="w", args=("--workers", "2"))
    servers.append(server)
    server.wait_ready()
    engine = make_engine(url)

    def worker_pids() -> set[int]:
        with engine.connect() as conn:
            names = conn.scalars(
                text(
                    "SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE 'sanshe w/%'"
                )
            )
            return {int(n.rsplit("/", 1)[1]) for n in names}

    try:
        # Each worker connected as "sanshe <instance>/<its pid>" while building its caches.
        assert wait_until(lambda: len(worker_pids()) == 2)
        pids = worker_pids()
        assert pids <= children(server.proc.pid)
        for i in range(10):
            assert intake(server.base, headers, i).status_code == 201
    finally:
        engine.dispose()
        server.stop()
    assert server.proc.returncode == 0
