"""Reminders, yellow/red supervision, callbacks, auto-close and star levels, with a frozen clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatch.db import transaction
from dispatch.timelimits.calendar import seed_calendar
from dispatch.tracking.scheduler import TrackingLoop
from models import (
    Order,
    OutboxChannel,
    OutboxMessage,
    Provider,
    ProviderKind,
    ProviderStatus,
    Role,
    Supervision,
)
from tests.factories import add_provider, make_provider, make_user, new_order
from tests.support.facts import assert_facts_current

pytestmark = pytest.mark.manual_dispatch


@pytest.fixture(autouse=True)
def official_calendar(session_factory) -> None:
    """The calendar as ``sanshe migrate`` leaves it for the test clock's years (2025–2026): official
    well past the tests' dates, so the daily coverage warning stays out of their outboxes."""
    with session_factory() as s:
        seed_calendar(s, [2025, 2026])
        s.commit()


@pytest.fixture(autouse=True)
def facts_kept(engine):
    """Whatever a test did to orders, offers and ratings, their KPI fact rows followed."""
    yield
    assert_facts_current(engine)


def tick(app) -> dict[str, int] | None:
    return TrackingLoop(app.state.ctx, holder="test").tick()


def outbox(session_factory, **where) -> list[OutboxMessage]:
    with session_factory() as s:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, key) == value)
        return list(s.scalars(stmt))


def order_row(session_factory, order_id: int) -> Order:
    with session_factory() as s:
        return s.get_one(Order, order_id)


def test_reminder_then_yellow_then_red(client, assigned, app, clock, session_factory, operator) -> None:
    order, _, _ = assigned  # HOME-01, "priority": 24 h to complete, remind 30 min before
    created = order_row(session_factory, order["id"])
    deadline = created.complete_by
    clock.set(deadline - timedelta(minutes=29))
    tick(app)
    reminders = [
        m for m in outbox(session_factory, channel=OutboxChannel.SMS) if m.body.startswith("【提醒】")
    ]
    assert len(reminders) == 1 and reminders[0].recipient == "+8613911112222"
    tick(app)  # the same moment again: nothing twice
    assert (
        len([m for m in outbox(session_factory, channel=OutboxChannel.SMS) if m.body.startswith("【提醒】")])
        == 1
    )
    clock.set(deadline + timedelta(minutes=1))
    tick(app)
    row = order_row(session_factory, order["id"])
    assert row.supervision == Supervision.YELLOW and row.overdue is True
    assert [m.recipient for m in outbox(session_factory, channel=OutboxChannel.NOTIFY)] == ["role:supervisor"]
    # Sent to the supervisors' live stream, saying which order it is about.
    seen = app.state.ctx.live().hub.subscribe(0, "supervisor", last_event_id=0).queue
    notes = [m for m in (seen.get_nowait() for _ in range(seen.qsize())) if m.event == "notification"]
    assert [(n.event, n.data["order_id"]) for n in notes] == [("notification", order["id"])]
    clock.set(deadline + (deadline - created.created_at) + timedelta(minutes=1))  # twice the limit
    tick(app)
    assert order_row(session_factory, order["id"]).supervision == Supervision.RED
    timeline = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()["timeline"]
    assert [e["action"] for e in timeline if e["action"] in ("remind", "escalate")] == [
        "remind",
        "escalate",
        "escalate",
    ]
    assert (
        order_row(session_factory, order["id"]).next_check_at is None
    )  # nothing further can happen by itself
    overdue = client.get("/api/v1/orders", params={"overdue": True}, headers=operator).json()
    assert [o["id"] for o in overdue["items"]] == [order["id"]]
    red = client.get("/api/v1/orders", params={"supervision": "red"}, headers=operator).json()
    assert [o["id"] for o in red["items"]] == [order["id"]]
    assert (
        client.get("/api/v1/orders", params={"supervision": "yellow"}, headers=operator).json()["total"] == 0
    )


def test_extension_clears_supervision(client, assigned, app, clock, session_factory, login) -> None:
    order, _, _ = assigned
    clock.set(order_row(session_factory, order["id"]).complete_by + timedelta(minutes=5))
    tick(app)
    assert order_row(session_factory, order["id"]).supervision == Supervision.YELLOW
    r = client.post(
        f"/api/v1/orders/{order['id']}/extend",
        json={"working_days": 2, "reason": "等配件"},
        headers=login(Role.SUPERVISOR),
    )
    assert r.json()["supervision"] == "none"


def test_callback_then_auto_close(client, assigned, app, clock, session_factory, operator) -> None:
    order, worker, _ = assigned
    client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "修好了"}, headers=worker)
    tick(app)
    assert outbox(session_factory, channel=OutboxChannel.CALL) == []  # not due yet
    clock.advance(days=1, minutes=1)  # Wednesday → Thursday: one working day later
    tick(app)
    calls = outbox(session_factory, channel=OutboxChannel.CALL)
    assert len(calls) == 1 and calls[0].recipient == "+8613800138000"
    assert any(
        m.recipient == "role:operator" and "回访" in m.body
        for m in outbox(session_factory, channel=OutboxChannel.NOTIFY)
    )
    clock.advance(days=5)  # past three working days (a weekend in between)
    tick(app)
    detail = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()
    assert detail["status"] == "closed" and detail["rating_stars"] is None
    assert detail["timeline"][-1]["note"].startswith("回访期满")


def test_a_patrol_report_waits_for_no_rating_callback(
    client, world, app, clock, session_factory, operator, login
) -> None:
    """A patrol report (channel visit, no number) names no resident: completing it sends no SMS and
    asks nobody for a rating; it closes when the callback period ends."""
    pid = add_provider(session_factory, world, km=0.5)
    worker = login(Role.WORKER, provider_id=pid)
    report = new_order(client, worker, caller_phone=None, channel="visit", description="3幢楼道水管漏水")
    assert client.post(f"/api/v1/orders/{report['id']}/dispatch", json={"provider_id": pid}, headers=operator).status_code == 200  # fmt: skip
    assert client.post(f"/api/v1/orders/{report['id']}/accept", headers=worker).status_code == 200
    r = client.post(f"/api/v1/orders/{report['id']}/complete", json={"note": "已修好"}, headers=worker)
    assert r.status_code == 200, r.text
    clock.advance(days=1, minutes=1)
    tick(app)
    # The only SMS is the offer to the worker: no rating request to anyone.
    assert [m.recipient for m in outbox(session_factory, channel=OutboxChannel.SMS)] == ["+8613900000000"]
    assert outbox(session_factory, channel=OutboxChannel.CALL) == []
    assert not [m for m in outbox(session_factory, channel=OutboxChannel.NOTIFY) if "回访" in m.body]
    clock.advance(days=5)
    tick(app)
    assert client.get(f"/api/v1/orders/{report['id']}", headers=operator).json()["status"] == "closed"


def test_a_reopened_order_escalates_from_its_reopening(
    client, assigned, app, clock, session_factory, operator, login
) -> None:
    order, worker, _ = assigned  # HOME-01, "priority": 24 h to complete on the wall clock
    client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "修好了"}, headers=worker)
    client.post(f"/api/v1/orders/{order['id']}/rate", json={"stars": 1}, headers=operator)
    clock.advance(hours=30)  # the first 24 h are long gone when the resident asks for rework
    supervisor = login(Role.SUPERVISOR)
    r = client.post(f"/api/v1/orders/{order['id']}/reopen", json={"reason": "还在漏水"}, headers=supervisor)
    assert r.status_code == 200, r.text
    reopened_at = clock.now()
    deadline = order_row(session_factory, order["id"]).complete_by
    assert deadline == reopened_at + timedelta(hours=24)
    clock.set(deadline + timedelta(minutes=1))
    tick(app)
    assert order_row(session_factory, order["id"]).supervision == Supervision.YELLOW
    # Red at twice the limit counted from the reopening (48 h), not from the order's creation
    # (which would put it 30 h later).
    clock.set(reopened_at + timedelta(hours=48, minutes=1))
    tick(app)
    assert order_row(session_factory, order["id"]).supervision == Supervision.RED


def test_star_levels_and_automatic_suspension(client, app, world, session_factory) -> None:
    with session_factory() as s:
        org = make_provider(
            s, kind=ProviderKind.ORGANISATION, name="颐乐服务中心", item_ids=(world["HOME-01"],)
        )
        other_org = make_provider(s, kind=ProviderKind.ORGANISATION, item_ids=(world["HOME-01"],))
        admins = [make_user(s, role=Role.ORG_ADMIN, provider_id=org.id) for _ in range(2)]
        other_admin = make_user(s, role=Role.ORG_ADMIN, provider_id=other_org.id)
        s.commit()
        org_id, admin_ids, other_admin_id = org.id, [a.id for a in admins], other_admin.id
    steady = add_provider(session_factory, world, km=1)
    poor = add_provider(session_factory, world, km=2, organisation_id=org_id)  # a worker of 颐乐
    new = add_provider(session_factory, world, km=3)
    with session_factory() as s:
        s.get(Provider, steady).rating_count, s.get(Provider, steady).rating_sum = 20, 95
        s.get(Provider, poor).rating_count, s.get(Provider, poor).rating_sum = 12, 14
        s.get(Provider, new).rating_count, s.get(Provider, new).rating_sum = 2, 2  # too few ratings to judge
        s.commit()
    tick(app)
    with session_factory() as s:
        assert s.get(Provider, steady).star_level == round((95 + 20) / 25, 2)
        assert s.get(Provider, poor).status == ProviderStatus.SUSPENDED
        assert s.get(Provider, new).status == ProviderStatus.ACTIVE
    notices = outbox(session_factory, channel=OutboxChannel.NOTIFY)
    assert len(notices) == 1 and "已暂停派单" in notices[0].body
    # Addressed to the admins of the worker's organisation, and delivered to them over the stream.
    assert notices[0].recipient == f"org_admins:{org_id}"
    assert notices[0].status.value == "sent"
    hub = app.state.ctx.live().hub
    for user_id in admin_ids:
        seen = hub.subscribe(user_id, Role.ORG_ADMIN.value, last_event_id=0).queue
        got = [seen.get_nowait() for _ in range(seen.qsize())]
        assert [(m.event, m.data["provider_id"], m.data["kind"]) for m in got] == [
            ("notification", poor, "suspended")
        ]
    others = hub.subscribe(other_admin_id, Role.ORG_ADMIN.value, last_event_id=0).queue
    assert others.empty()  # another organisation's admin is not told


def test_the_sweep_reads_only_due_orders(app, client, world, operator, clock, session_factory) -> None:
    for i in range(30):
        new_order(client, operator, caller_phone=f"1390000{i:04d}")
    with transaction(app.state.ctx.sessions) as s:
        due = list(s.scalars(select(Order).limit(3)))
        for o in due:
            o.next_check_at = clock.now() - timedelta(seconds=1)
        for o in s.scalars(select(Order).where(Order.id.not_in([d.id for d in due]))):
            o.next_check_at = clock.now() + timedelta(hours=5)
    assert tick(app)["sweep_orders"] == 3


def test_admins_edit_the_calendar_and_new_deadlines_follow(client, world, operator, login, clock) -> None:
    admin = login(Role.ADMIN)
    # A normal item (5 working days) created on Wednesday 2025-11-12 is due Wednesday 2025-11-19.
    before = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000001"
    )
    assert before["complete_by"].startswith("2025-11-19")
    r = client.put(
        "/api/v1/calendar/2025-11-17", json={"is_workday": False, "name": "临时停工"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["source"] == "manual"
    after = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000002"
    )
    assert after["complete_by"].startswith("2025-11-20")  # one working day fewer in that week
    days = client.get(
        "/api/v1/calendar", params={"from": "2025-11-01", "to": "2025-11-30"}, headers=operator
    ).json()
    assert [d["day"] for d in days["items"]] == ["2025-11-17"]
    assert (
        client.put("/api/v1/calendar/2025-11-18", json={"is_workday": False}, headers=operator).status_code
        == 403
    )
    assert (
        client.get(
            "/api/v1/calendar", params={"from": "2025-12-01", "to": "2025-11-01"}, headers=admin
        ).status_code
        == 400
    )


def test_admins_hand_a_day_back_to_the_official_calendar(client, world, operator, login) -> None:
    admin = login(Role.ADMIN)

    def listed(month: str) -> list[tuple[str, bool, str]]:
        r = client.get("/api/v1/calendar", params={"from": f"{month}-01", "to": f"{month}-28"}, headers=admin)
        return [(d["day"], d["is_workday"], d["source"]) for d in r.json()["items"]]

    # 2025-10-01 is 国庆节 in the official calendar; 2025-11-17 is a plain Monday.
    for day, body in (("2025-10-01", {"is_workday": True}), ("2025-11-17", {"is_workday": False})):
        assert client.put(f"/api/v1/calendar/{day}", json=body, headers=admin).json()["source"] == "manual"
    assert client.delete("/api/v1/calendar/2025-10-01", headers=operator).status_code == 403
    r = client.delete("/api/v1/calendar/2025-10-01", headers=admin)
    assert r.status_code == 200
    assert r.json() == {
        "day": "2025-10-01",
        "is_workday": False,
        "name": "国庆节",
        "source": "chinese-calendar",
    }
    assert ("2025-10-01", False, "chinese-calendar") in listed("2025-10")
    r = client.delete("/api/v1/calendar/2025-11-17", headers=admin)
    assert r.json() == {"day": "2025-11-17", "is_workday": True, "name": "", "source": "weekday"}
    assert listed("2025-11") == []
    # A new order counts 2025-11-17 as a working day again: due Wednesday 2025-11-19.
    order = new_order(
        client, operator, item_code="HOME-06", description="打扫卫生", caller_phone="13900000003"
    )
    assert order["complete_by"].startswith("2025-11-19")
    assert client.delete("/api/v1/calendar/2025-11-17", headers=admin).status_code == 200  # again: no-op


def test_one_bad_order_never_stops_the_sweep(
    client, assigned, app, clock, session_factory, operator, caplog
) -> None:
    """An inconsistent order (its deadline before its creation) fails alone: the others still get
    their reminder and their supervision, the admins are told once, and every tick retries it."""
    order, _, _ = assigned
    late, bad = new_order(client, operator), new_order(client, operator, caller_phone="13900000001")
    deadline = order_row(session_factory, order["id"]).complete_by
    now = deadline - timedelta(minutes=29)  # the assigned order's reminder is due
    with transaction(app.state.ctx.sessions) as s:
        broken = s.get_one(Order, bad["id"])
        broken.complete_by = broken.created_at - timedelta(days=1)
        overdue = s.get_one(Order, late["id"])
        overdue.complete_by = overdue.created_at + timedelta(hours=1)  # well past it by `now`
        for o in (broken, overdue, s.get_one(Order, order["id"])):
            o.next_check_at = now - timedelta(seconds=1)
    clock.set(now)
    with caplog.at_level("ERROR", logger="dispatch.tracking.jobs"):
        assert tick(app)["sweep_orders"] == 3
        tick(app)  # the bad order is retried, and reported only once
    reminders = [
        m for m in outbox(session_factory, channel=OutboxChannel.SMS) if m.body.startswith("【提醒】")
    ]
    assert len(reminders) == 1 and order["number"] in reminders[0].body
    assert order_row(session_factory, late["id"]).supervision == Supervision.RED  # far past its limit
    told = outbox(session_factory, recipient="role:admin")
    assert len(told) == 1 and bad["number"] in told[0].body
    assert len([r for r in caplog.records if bad["number"] in r.getMessage()]) == 1
    assert order_row(session_factory, bad["id"]).next_check_at <= now  # still due: retried next tick
