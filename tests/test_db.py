"""Transactions: reads never queue behind writers (SQLite's one writer), read-only sessions refuse
to write, and rows a read hands over are written after it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from dispatch.db import transaction, write_later
from models import AccessRecord, Role, User
from tests.support.waiting import wait_until


def test_a_read_request_does_not_wait_for_a_writer(client, login, app) -> None:
    headers = login(Role.OPERATOR)
    ctx = app.state.ctx
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:  # holds the write transaction (SQLite: the writer lock) until told
        with transaction(ctx.sessions) as s:
            s.execute(update(User).where(User.id == -1).values(display_name="x"))
            holding.set()
            release.wait(60)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        assert holding.wait(30)
        answers: list[int] = []
        reader = threading.Thread(
            target=lambda: answers.extend(
                client.get(path, headers=headers).status_code for path in ("/api/v1/me", "/api/v1/orders")
            ),
            daemon=True,
        )
        reader.start()
        # Were reads to queue behind the writer, they would wait until it lets go (60 s).
        assert wait_until(lambda: len(answers) == 2, timeout=30), "a read waited for the writer"
        assert answers == [200, 200] and thread.is_alive()
    finally:
        release.set()
        thread.join(30)


def test_a_read_only_session_refuses_to_write_and_hands_rows_over(app, client) -> None:
    ctx = app.state.ctx
    record = AccessRecord(at=datetime.now(UTC), username="op", role="operator", action="profile")
    with ctx.read_sessions() as s:
        s.add(record)
        with pytest.raises(RuntimeError, match="read-only"):
            s.flush()
        s.rollback()
        s.expunge_all()
        with pytest.raises(RuntimeError, match="read-only"):
            s.execute(update(User).values(display_name="x"))
        write_later(s, AccessRecord(at=datetime.now(UTC), username="op", role="operator", action="profile"))
        assert s.info["sanshe_write_later"]
    with ctx.sessions() as s:  # a write session adds at once
        write_later(s, AccessRecord(at=datetime.now(UTC), username="op", role="operator", action="search"))
        s.commit()
        assert [r.action for r in s.scalars(select(AccessRecord))] == ["search"]
