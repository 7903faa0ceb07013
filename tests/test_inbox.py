"""The call event inbox: an event answered 202 is stored first, so a kill -9 loses none; the worker
handles it from the table (once in effect), retries a failing one and leaves it for an admin."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from dispatch.calls import inbox
from dispatch.calls.events import CallEnded, event_to_dict
from models import Call, CallEventInbox, Disposition, InboxState, Role
from tests.factories import bearer, make_user
from tests.support.waiting import wait_until
from tests.test_calls import answered_call, at

ROOT = Path(__file__).resolve().parents[1]
START_DEADLINE = 180.0


def test_an_accepted_event_is_stored_before_the_answer_and_handled_from_the_inbox(
    client, login, session_factory
) -> None:
    admin = login(Role.ADMIN)
    for event in answered_call("IN1"):
        r = client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=admin)
        assert r.status_code == 202, r.text
        with session_factory() as s:  # committed when the 202 arrives
            assert s.get(CallEventInbox, r.json()["inbox_id"]).raw == event_to_dict(event)
    client.app.state.ctx.live().ingest.drain()
    with session_factory() as s:
        rows = s.scalars(select(CallEventInbox).order_by(CallEventInbox.id)).all()
        assert [r.state for r in rows] == [InboxState.PROCESSED] * 4
        assert all(r.attempts == 1 and r.processed_at and r.source == "simulator" for r in rows)
        call = s.scalar(select(Call).where(Call.external_id == "IN1"))
        assert call.disposition == Disposition.ANSWERED and call.talk_seconds == 95


def test_handling_an_event_twice_changes_nothing(client, login, session_factory) -> None:
    """What a crash between the effects and the commit would cause: the same rows handled again."""
    admin = login(Role.ADMIN)
    for event in answered_call("TWICE") * 2:
        assert (
            client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=admin).status_code
            == 202
        )
    client.app.state.ctx.live().ingest.drain()
    with session_factory() as s:
        assert s.scalar(select(func.count(CallEventInbox.id)).where(CallEventInbox.state == "processed")) == 8
        call = s.scalars(select(Call).where(Call.external_id == "TWICE")).one()
        assert call.answered_at == at(9) and call.ended_at == at(104) and call.talk_seconds == 95


def _pending(session, raw: dict, *, received: datetime | None = None) -> int:
    now = received or datetime.now(UTC)
    row = CallEventInbox(
        received_at=now, source="simulator", raw=raw, state=InboxState.PENDING, next_attempt_at=now
    )
    session.add(row)
    session.flush()
    return row.id


def test_rows_left_by_a_dead_process_are_handled_at_start(settings, session_factory) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app

    with session_factory() as s:
        for event in answered_call("LEFT"):
            _pending(s, event_to_dict(event))
        s.commit()
    with TestClient(create_app(settings)):
        # Nobody posts anything: the worker looks at start.
        def stored() -> bool:
            with session_factory() as s:
                return (
                    s.scalar(select(Call.disposition).where(Call.external_id == "LEFT"))
                    == Disposition.ANSWERED
                )

        assert wait_until(stored)


def test_a_failing_event_is_left_for_an_admin_and_holds_up_nothing(settings, session_factory, login) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app

    once = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"max_attempts": 1})})
    with session_factory() as s:
        # Stored by an older version, say, and no longer readable.
        broken = _pending(s, {"type": "ringing", "call_id": "X", "colour": "red"})
        s.commit()
    with TestClient(create_app(once)) as client:
        admin = login(Role.ADMIN)
        ingest = client.app.state.ctx.live().ingest
        for event in answered_call("AFTER"):
            assert (
                client.post("/api/v1/telephony/events", json=event_to_dict(event), headers=admin).status_code
                == 202
            )
        ingest.drain()
        with session_factory() as s:
            row = s.get(CallEventInbox, broken)
            assert row.state == InboxState.FAILED and row.attempts == 1 and "colour" in row.last_error
            assert s.scalar(select(Call.ended_at).where(Call.external_id == "AFTER")) is not None

        listed = client.get("/api/v1/telephony/inbox", params={"state": "failed"}, headers=admin)
        assert listed.status_code == 200 and listed.json()["total"] == 1
        item = listed.json()["items"][0]
        assert item["id"] == broken and item["event"]["colour"] == "red" and item["state"] == "failed"
        assert (
            client.get("/api/v1/telephony/inbox", params={"state": "processed"}, headers=admin).json()[
                "total"
            ]
            == 4
        )
        for role in (Role.SUPERVISOR, Role.OPERATOR):
            assert client.get("/api/v1/telephony/inbox", headers=login(role)).status_code == 403
        bad = client.get("/api/v1/telephony/inbox", params={"state": "lost"}, headers=admin)
        assert bad.status_code == 422 and {"error", "detail", "message"} <= set(bad.json())

        # Sent round again it fails again (nothing was fixed), and is left again.
        r = client.post(f"/api/v1/telephony/inbox/{broken}/retry", headers=admin)
        assert r.status_code == 200 and r.json()["state"] == "pending"
        ingest.drain()
        assert client.get("/api/v1/telephony/inbox", headers=admin).json()["items"][0]["attempts"] == 1
        again = client.post(f"/api/v1/telephony/inbox/{broken + 1}/retry", headers=admin)
        assert again.status_code == 409 and again.json()["error"] == "not_failed"
        assert client.post("/api/v1/telephony/inbox/99999/retry", headers=admin).status_code == 404


def test_a_failed_attempt_backs_off_and_gives_up_at_the_limit() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    row = CallEventInbox(state=InboxState.PENDING, attempts=0, next_attempt_at=now, last_error="")
    assert inbox.attempt_failed(row, "boom", now=now, max_attempts=3) is False
    assert row.next_attempt_at == now + inbox.RETRY_BASE and row.last_error == "attempt 1: boom"
    assert inbox.attempt_failed(row, "boom", now=now, max_attempts=3) is False
    assert row.next_attempt_at == now + 2 * inbox.RETRY_BASE
    assert inbox.attempt_failed(row, "boom", now=now, max_attempts=3) is True
    assert row.state == InboxState.FAILED


def test_processed_rows_are_pruned_after_the_retention_period(settings, session_factory) -> None:
    from dispatch.context import AppContext
    from dispatch.tracking.scheduler import JOBS

    prune = next(job for job in JOBS if job.name == "prune_call_inbox")
    now = datetime.now(UTC)
    with session_factory() as s:
        old, recent, failed = (_pending(s, {"type": "x"}) for _ in range(3))
        for row_id, state, age in ((old, "processed", 8), (recent, "processed", 6), (failed, "failed", 30)):
            row = s.get(CallEventInbox, row_id)
            row.state, row.processed_at = InboxState(state), now - timedelta(days=age)
        s.commit()
    ctx = AppContext.build(settings)
    try:
        with session_factory() as s:
            assert settings.ingest.retention_days == 7
            assert prune.run(s, ctx, now) == 1
            s.commit()
            assert sorted(s.scalars(select(CallEventInbox.id))) == [recent, failed]
    finally:
        ctx.close()


# --- kill -9 of a real server ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(db_url: str, settings, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANSHE_")}
    env |= {
        "SANSHE_DATABASE_URL": db_url,
        "SANSHE_AUTH__JWT_SECRET": settings.auth.jwt_secret,
        "SANSHE_SERVER__SIMULATOR": "false",
        "SANSHE_SERVER__TRACKING_LOOP": "false",
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv's editable install says
    }
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dispatch.cli", "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            return httpx.get(f"{base}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, timeout=START_DEADLINE, interval=0.1):
        proc.kill()
        pytest.fail(f"the server did not answer /health within {START_DEADLINE:.0f} s")
    return proc, base


def _calls(count: int) -> list[dict]:
    events = []
    for n in range(count):
        ringing, ext_ringing, answered, ended = answered_call(f"K{n:02d}")
        events += [event_to_dict(e) for e in (ringing, ext_ringing, answered, ended)]
    # One call that ends abandoned: a callback is opened exactly once however often it is handled.
    events[-1] = event_to_dict(
        CallEnded(
            f"K{count - 1:02d}",
            "simulator",
            at(60),
            "abandoned",
            60,
            0,
            "13800138000",
            "hotline",
            None,
            at(0),
            None,
        )
    )
    return events


@pytest.mark.timeout(600)
def test_sixty_acknowledged_events_survive_a_kill_9(db_url, settings, session_factory, tmp_path) -> None:
    from models import Callback

    with session_factory() as s:
        admin = bearer(make_user(s, role=Role.ADMIN), settings)
        make_user(s, role=Role.OPERATOR, extension="1001")
        s.commit()
    events = _calls(15)
    assert len(events) == 60
    proc, base = _serve(db_url, settings, tmp_path)
    try:
        with httpx.Client(base_url=base, headers=admin, timeout=30) as http:
            for event in events:
                r = http.post("/api/v1/telephony/events", json=event)
                assert r.status_code == 202, r.text
        proc.send_signal(signal.SIGKILL)  # right after the last 202
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with session_factory() as s:
        stored = s.scalar(select(func.count(CallEventInbox.id)))
        pending = s.scalar(select(func.count(CallEventInbox.id)).where(CallEventInbox.state == "pending"))
    assert stored == 60
    print(f"at the kill: 60 stored, {pending} not yet handled")

    proc, base = _serve(db_url, settings, tmp_path)
    try:

        def all_handled() -> bool:
            with session_factory() as s:
                return (
                    s.scalar(select(func.count(CallEventInbox.id)).where(CallEventInbox.state == "processed"))
                    == 60
                )

        assert wait_until(all_handled, timeout=120)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with session_factory() as s:
        calls = {c.external_id: c for c in s.scalars(select(Call))}
        assert sorted(calls) == [f"K{n:02d}" for n in range(15)]
        for n in range(14):
            call = calls[f"K{n:02d}"]
            assert call.disposition == Disposition.ANSWERED and call.talk_seconds == 95
            assert call.operator_ext == "1001" and call.answered_at == at(9) and call.ended_at == at(104)
        last = calls["K14"]
        assert last.disposition == Disposition.ABANDONED and last.answered_at == at(9)
        assert s.scalar(select(func.count(Callback.id))) == 1
