"""One live event stream across processes on PostgreSQL: two real ``sanshe serve`` processes on
one database. What is published on instance A (a screen pop, a call update, an order change)
reaches the streams on instance B; a console resumes on B with the id it last read on A; B's
listener survives its connection being killed and catches up. SQLite keeps the in-memory hub."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from dispatch.benchmarks.telephony import SseReader, free_port
from dispatch.calls.events import CallRinging, event_to_dict
from dispatch.settings import Settings
from models import Role
from tests.factories import bearer, load_catalogue, make_small_district, make_user, new_order
from tests.support.waiting import wait_until

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
SECRET = "test-secret-test-secret-test-secret-0123"
START_DEADLINE = 120.0
POSTGRES = [pytest.param("postgresql", marks=pytest.mark.postgres)]


class Instance:
    def __init__(self, name: str, url: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
        env |= {"SANSHE_DATABASE_URL": url, "SANSHE_AUTH__JWT_SECRET": SECRET}
        # This checkout's code, whichever checkout the environment's ``sanshe`` was installed from.
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"{name}.log"
        self.proc = subprocess.Popen(
            [str(BIN / "sanshe"), "serve", "--port", str(self.port), "--no-tracking", "--no-simulator"],
            env=env,
            cwd=cwd,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def up(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"instance {self.name} exited with {self.proc.returncode}: {self.log.read_text()}")
        try:
            return httpx.get(f"{self.base}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def pair(postgres_server_url: str, postgres_template: str, tmp_path_factory: pytest.TempPathFactory):
    """Instances A and B of ``sanshe serve`` on one fresh PostgreSQL database, with the test
    district, two operators with extensions, a supervisor and an admin."""
    from tests.conftest import drop_postgres_database, fresh_postgres_url

    url = fresh_postgres_url(postgres_server_url, postgres_template)
    settings = Settings(database_url=url, auth={"jwt_secret": SECRET})
    engine = create_engine(url)
    with engine.connect() as conn, conn.begin():
        from sqlalchemy.orm import Session

        session = Session(bind=conn)
        load_catalogue(session)
        make_small_district(session)
        users = {
            name: make_user(session, role=role, extension=ext, username=name)
            for name, role, ext in (
                ("op1", Role.OPERATOR, "1001"),
                ("op2", Role.OPERATOR, "1002"),
                ("boss", Role.SUPERVISOR, None),
                ("admin", Role.ADMIN, None),
            )
        }
        headers = {name: bearer(user, settings, minutes=120) for name, user in users.items()}
        session.commit()
    cwd = tmp_path_factory.mktemp("live-bus")
    a, b = Instance("A", url, cwd), Instance("B", url, cwd)
    try:
        for instance in (a, b):
            if not wait_until(instance.up, timeout=START_DEADLINE, interval=0.1):
                pytest.fail(f"instance {instance.name} did not answer /health within {START_DEADLINE:.0f} s")
        yield {"a": a, "b": b, "url": url, "engine": engine, "headers": headers}
    finally:
        a.stop()
        b.stop()
        engine.dispose()
        drop_postgres_database(postgres_server_url, url)


def token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def ring(instance: Instance, admin: dict[str, str], call_id: str, ext: str) -> None:
    event = CallRinging(call_id, "simulator", "13800138000", "12345", "hotline", ext, datetime.now(UTC))
    r = httpx.post(f"{instance.base}/api/v1/telephony/events", json=event_to_dict(event), headers=admin)
    assert r.status_code == 202, r.text


def listeners(engine: Any, instance: Instance) -> list[int]:
    """The backend pids of the instance's live event listener."""
    with engine.connect() as conn:
        return list(
            conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": f"sanshe-live-listen:{instance.proc.pid}"},
            )
        )


@pytest.mark.parametrize("backend", POSTGRES)
def test_a_call_rung_on_a_pops_on_b_and_updates_bs_supervisor(pair, backend) -> None:
    a, b, headers = pair["a"], pair["b"], pair["headers"]
    with (
        SseReader(b.base, token(headers["op1"])) as op1,
        SseReader(b.base, token(headers["op2"])) as op2,
        SseReader(b.base, token(headers["boss"])) as boss,
    ):
        ring(a, headers["admin"], "XPOP1", "1001")
        _, pop = op1.wait("screen_pop", lambda d: d["call"]["external_id"] == "XPOP1", timeout=30)
        assert pop["call"]["operator"] == "1001" and pop["call"]["caller"] == "+8613800138000"
        _, update = boss.wait("call", lambda d: d["external_id"] == "XPOP1", timeout=30)
        # The supervisor's update masks the number, as everywhere outside the operator's pop.
        assert (update["caller"], update["caller_national"]) == (None, "138****8000")
        # Addressing holds across processes: the other operator gets no pop for it.
        ring(a, headers["admin"], "XPOP2", "1002")
        op2.wait("screen_pop", lambda d: d["call"]["external_id"] == "XPOP2", timeout=30)
        with pytest.raises(TimeoutError):
            op2.wait("screen_pop", lambda d: d["call"]["external_id"] == "XPOP1", timeout=0.2)


@pytest.mark.parametrize("backend", POSTGRES)
def test_a_supervisor_on_b_sees_order_changes_made_on_a(pair, backend) -> None:
    a, b, headers = pair["a"], pair["b"], pair["headers"]
    with SseReader(b.base, token(headers["boss"])) as boss, httpx.Client(base_url=a.base, timeout=30) as on_a:
        order = new_order(on_a, headers["op1"], caller_phone="13900001111")
        _, change = boss.wait("order", lambda d: d["id"] == order["id"], timeout=30)
        assert change["number"] == order["number"] and change["status"] == order["status"]


@pytest.mark.parametrize("backend", POSTGRES)
def test_a_console_resumes_on_b_with_the_last_id_it_read_on_a(pair, backend) -> None:
    a, b, headers = pair["a"], pair["b"], pair["headers"]
    with httpx.Client(base_url=a.base, timeout=30) as on_a:
        with SseReader(a.base, token(headers["boss"])) as boss:
            first = new_order(on_a, headers["op1"], caller_phone="13900002222")
            _, last_id, _ = boss.wait_frame("order", lambda d: d["id"] == first["id"], timeout=30)
        assert last_id is not None
        # The console is gone (a restart, a load balancer moving it); two orders are taken meanwhile.
        missed = [new_order(on_a, headers["op1"], caller_phone=f"1390000333{i}")["id"] for i in range(2)]
    with SseReader(b.base, token(headers["boss"]), last_event_id=last_id) as again:
        got = [again.wait_frame("order", lambda d, i=i: d["id"] == i, timeout=30) for i in missed]
    ids = [id_ for _, id_, _ in got]
    assert all(i is not None and i > last_id for i in ids) and ids == sorted(ids)


@pytest.mark.parametrize("backend", POSTGRES)
def test_bs_listener_survives_a_killed_connection_and_catches_up(pair, backend) -> None:
    a, b, engine, headers = pair["a"], pair["b"], pair["engine"], pair["headers"]
    with SseReader(b.base, token(headers["boss"])) as boss, httpx.Client(base_url=a.base, timeout=30) as on_a:
        assert wait_until(lambda: len(listeners(engine, b)) == 1)
        [killed] = listeners(engine, b)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed}) is True
        # Published while B's listener is down or reconnecting: caught up from the table.
        orders = [new_order(on_a, headers["op1"], caller_phone=f"1390000444{i}")["id"] for i in range(3)]
        for order_id in orders:
            boss.wait("order", lambda d, i=order_id: d["id"] == i, timeout=30)
        assert wait_until(lambda: len(listeners(engine, b)) == 1 and listeners(engine, b) != [killed])
        # And it goes on delivering live.
        later = new_order(on_a, headers["op1"], caller_phone="13900005555")["id"]
        boss.wait("order", lambda d: d["id"] == later, timeout=30)


# --- the bus in one process -------------------------------------------------------------------


@pytest.fixture
def bus(db_url: str) -> Iterator[Any]:
    from dispatch.live.postgres import PostgresBus

    bus = PostgresBus(db_url, retention_minutes=1)
    yield bus
    bus.stop()


@pytest.mark.parametrize("backend", POSTGRES)
def test_old_messages_are_pruned_and_a_resume_reads_only_what_is_kept(bus, engine, backend) -> None:
    old = datetime.now(UTC) - timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO live_event (event, targets, data, created_at)"
                " VALUES ('call', '[\"all\"]', '{}', :at)"
            ),
            {"at": old},
        )
    kept = bus.publish(["all"], "call", {"n": 1})  # from this thread: stored before it returns
    assert kept is not None and kept.id > 1
    # Without a loop bound, a resume from another thread is queued at once: the old row is past
    # the retention and is not among the missed ones even before it is deleted.
    again = bus.subscribe(1, "operator", last_event_id=0)
    assert [again.queue.get_nowait().data for _ in range(again.queue.qsize())] == [{"n": 1}]
    bus.start()

    def ids() -> list[int]:
        with engine.connect() as conn:
            return list(conn.scalars(text("SELECT id FROM live_event ORDER BY id")))

    assert wait_until(lambda: ids() == [kept.id])


def test_sqlite_keeps_the_in_memory_hub_and_refuses_the_postgres_bus(sqlite_url: str) -> None:
    assert Settings(database_url=sqlite_url).live_bus() == "memory"
    assert Settings(database_url="postgresql+psycopg://u@h/db").live_bus() == "postgres"
    assert Settings(database_url="postgresql+psycopg://u@h/db", live={"bus": "memory"}).live_bus() == "memory"
    with pytest.raises(ValueError, match="live.bus = postgres"):
        Settings(database_url=sqlite_url, live={"bus": "postgres"})


@pytest.mark.parametrize("backend", POSTGRES)
def test_a_notification_references_its_message_and_an_unreachable_bus_is_a_temporary_failure(
    bus, engine, session_factory, backend
) -> None:
    from dispatch.live.notifier import HubNotifier
    from dispatch.live.postgres import PostgresBus
    from dispatch.ports import DeliveryError, Recipient

    ref = HubNotifier(bus, session_factory).notify(Recipient.parse("role:supervisor"), "督办提醒", {})
    with engine.connect() as conn:
        stored = conn.scalar(text("SELECT max(id) FROM live_event WHERE event = 'notification'"))
    assert ref == f"event-{stored}"
    nowhere = PostgresBus(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    try:
        assert nowhere.publish(["all"], "call", {}) is None  # logged, never raised
        with pytest.raises(DeliveryError) as failed:
            HubNotifier(nowhere, session_factory).notify(Recipient.parse("role:supervisor"), "督办提醒", {})
        assert failed.value.permanent is False  # the outbox tries again
    finally:
        nowhere.stop()
