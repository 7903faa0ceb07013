"""The tracking loop's daily reminder that the working-day calendar runs out, with a frozen clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from dispatch.timelimits.calendar import seed_calendar
from dispatch.tracking.scheduler import TrackingLoop
from models import OutboxChannel, OutboxMessage
from tests.factories import SHANGHAI

pytestmark = pytest.mark.manual_dispatch  # the frozen clock


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


def notices(session_factory) -> list[tuple[str, str]]:
    with session_factory() as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == OutboxChannel.NOTIFY)
            .order_by(OutboxMessage.id)
        )
        return [
            (m.recipient, m.payload["official_until"])
            for m in rows
            if m.payload["kind"] == "calendar_coverage"
        ]


def test_admins_and_supervisors_are_told_once_a_day_from_60_days_before_the_end(
    app, client, clock, session_factory
) -> None:
    with session_factory() as s:
        seed_calendar(s, [2025, 2026])  # official until 2026-12-31
        s.commit()
    loop = TrackingLoop(app.state.ctx, holder="test")

    clock.set(local(2026, 10, 31, 23, 59))  # 61 days left
    assert loop.tick()["calendar_coverage"] == 0
    assert notices(session_factory) == []

    clock.set(local(2026, 11, 1, 0, 1))  # 60 days left
    assert loop.tick()["calendar_coverage"] == 2
    today = [("role:admin", "2026-12-31"), ("role:supervisor", "2026-12-31")]
    assert notices(session_factory) == today
    for hour in (9, 23):  # later ticks the same day add nothing
        clock.set(local(2026, 11, 1, hour))
        assert loop.tick()["calendar_coverage"] == 0
    assert notices(session_factory) == today

    clock.set(local(2026, 11, 2, 0, 1))  # the next day: once more
    assert loop.tick()["calendar_coverage"] == 2
    assert loop.tick()["calendar_coverage"] == 0
    assert notices(session_factory) == today * 2

    # Delivered to the consoles of both roles, with the Chinese warning and the days left.
    hub = app.state.ctx.live().hub
    for role in ("admin", "supervisor"):
        queue = hub.subscribe(0, role, last_event_id=0).queue
        got = [queue.get_nowait().data for _ in range(queue.qsize())]
        assert [(n["kind"], n["days_left"]) for n in got] == [
            ("calendar_coverage", 60),
            ("calendar_coverage", 59),
        ]
        assert "还剩 60 天" in got[0]["body"] and "管理 › 工作日历" in got[0]["body"]
    assert hub.subscribe(0, "operator", last_event_id=0).queue.empty()
