"""Keeping the working-day calendar current over HTTP, on both databases: coverage and its warning."""

from __future__ import annotations

from datetime import datetime

import pytest

from dispatch.timelimits.calendar import seed_calendar
from models import Role
from tests.factories import SHANGHAI

pytestmark = pytest.mark.manual_dispatch  # the frozen clock


def local(y: int, mo: int, d: int, h: int = 10) -> datetime:
    return datetime(y, mo, d, h, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def official_calendar(session_factory, clock) -> None:
    """As ``sanshe migrate`` leaves it with chinese-calendar 1.11 (two of its years suffice),
    seen on 2026-12-04, 27 days before its end."""
    with session_factory() as s:
        seed_calendar(s, [2025, 2026])
        s.commit()
    clock.set(local(2026, 12, 4))


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_warns_60_days_before_the_end(client, login, clock) -> None:
    worker = login(Role.WORKER)
    r = client.get("/api/v1/calendar/coverage", headers=worker)  # any signed-in role may read it
    assert r.status_code == 200
    body = r.json()
    assert (body["official_until"], body["days_left"], body["today"]) == ("2026-12-31", 27, "2026-12-04")
    assert "还剩 27 天" in body["warning"] and "2027年" in body["warning"]
    assert [(y["year"], y["source"], y["covered"]) for y in body["years"]] == [
        (2025, "chinese-calendar", True),
        (2026, "chinese-calendar", True),
    ]
    clock.set(local(2026, 10, 31))
    body = client.get("/api/v1/calendar/coverage", headers=worker).json()
    assert (body["days_left"], body["warning"]) == (61, None)
    assert client.get("/api/v1/calendar/coverage").status_code == 401


def test_health_keeps_its_answer_and_adds_the_calendar_on_request(client, clock) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/health", params={"detail": "true"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    calendar = body["checks"]["calendar"]
    assert {k: calendar[k] for k in ("status", "official_until", "days_left")} == {
        "status": "warn",
        "official_until": "2026-12-31",
        "days_left": 27,
    }
    assert "还剩 27 天" in calendar["warning"]
    clock.set(local(2026, 6, 1))
    assert client.get("/health?detail=true").json()["checks"]["calendar"]["status"] == "ok"
