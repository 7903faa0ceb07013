"""Care visit plans (定期探访): visits on working days across a holiday, needs found become orders,
three misses escalate, coverage matches a hand count, and the role checks. Both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from dispatch.timelimits.calendar import seed_calendar
from dispatch.tracking.scheduler import TrackingLoop
from models import (
    CareVisit,
    Channel,
    Frequency,
    Item,
    Order,
    OrderStatus,
    OutboxMessage,
    PlanType,
    Resident,
    ResidentPhone,
    Role,
    Supervision,
    VisitOutcome,
    VisitPlan,
)
from tests.factories import make_provider

pytestmark = pytest.mark.manual_dispatch
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.fixture(autouse=True)
def official_calendar(session_factory) -> None:
    with session_factory() as s:
        seed_calendar(s, [2025, 2026])
        s.commit()


def add_resident(
    session_factory, world, *, tags=("独居老人",), name="王秀英", phone="+8613800138001", c="c1"
) -> int:
    with session_factory() as s:
        r = Resident(
            name=name,
            address="阳光花园3幢2单元101",
            lat=30.2906,
            lon=120.1206,
            community_id=world[c],
            grid_id=world["g1" if c == "c1" else "g2"],
            tags=list(tags),
        )
        r.phones = [ResidentPhone(e164=phone, is_primary=True)]
        s.add(r)
        s.commit()
        return r.id


def add_visitor(session_factory, name: str = "网格员张强") -> int:
    with session_factory() as s:
        p = make_provider(s, name=name, lat=30.291, lon=120.121, phone="+8613900001111", capacity=10)
        s.commit()
        return p.id


def tick(app) -> dict[str, int] | None:
    return TrackingLoop(app.state.ctx, holder="test").tick()


def visits(session_factory, plan_id: int) -> list[CareVisit]:
    with session_factory() as s:
        stmt = (
            select(CareVisit)
            .where(CareVisit.plan_id == plan_id)
            .order_by(CareVisit.period_on, CareVisit.attempt)
        )
        return list(s.scalars(stmt))


def count(session_factory, model, *where) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def setup(client, world, login, session_factory, clock):
    clock.set(at(2026, 9, 28))  # a Monday, a week before the National Day holiday
    resident = add_resident(session_factory, world)
    visitor = add_visitor(session_factory)
    return {
        "resident": resident,
        "visitor": visitor,
        "supervisor": login(Role.SUPERVISOR),
        "worker": login(Role.WORKER, provider_id=visitor),
    }


def new_plan(client, headers, **body) -> dict:
    r = client.post("/api/v1/visit-plans", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_plan_makes_its_visits_on_working_days_across_the_national_day_holiday(
    client, app, setup, clock, session_factory
) -> None:
    plan = new_plan(
        client,
        setup["supervisor"],
        resident_id=setup["resident"],
        plan_type="elderly",
        frequency="weekly",
        provider_id=setup["visitor"],
        start_on="2026-10-03",  # a Saturday inside the holiday (10-01 … 10-07)
    )
    assert tick(app)["make_care_visits"] == 0  # 10-03 is more than lead_days (3) away
    for day in (30, 1, 2, 5, 6, 7, 8, 9, 10, 12, 14, 15):  # the loop ticks on holidays too
        clock.set(at(2026, 10, day) if day < 28 else at(2026, 9, day))
        tick(app)
        tick(app)  # twice: nothing twice
    made = visits(session_factory, plan["id"])
    # 10-03 (holiday) → Thu 10-08; 10-10 is a make-up working Saturday (调休); 10-17 (Sat) → Mon 10-19.
    assert [(v.period_on, v.due_on) for v in made] == [
        (date(2026, 10, 3), date(2026, 10, 8)),
        (date(2026, 10, 10), date(2026, 10, 10)),
        (date(2026, 10, 17), date(2026, 10, 19)),
    ]
    with session_factory() as s:
        for v in made:
            order = s.get_one(Order, v.order_id)
            item = s.get_one(Item, order.item_id)
            assert (order.channel, item.code, item.sla_class_code) == (Channel.VISIT, "ELD-11", "consult")
            # Offered to the plan's visitor (left unsigned, the offer expires as any other does).
            assert order.offers[0].provider_id == setup["visitor"]
            assert order.complete_by == datetime.combine(
                v.due_on + timedelta(days=1), datetime.min.time(), SHANGHAI
            )
    assert count(session_factory, Order) == 3
    # The job itself, run again at the same moment, makes nothing more.
    assert tick(app)["make_care_visits"] == 0


def _visit_accepted(client, app, setup, session_factory, clock, **plan_kw) -> tuple[dict, CareVisit]:
    plan = new_plan(
        client,
        setup["supervisor"],
        resident_id=setup["resident"],
        plan_type=plan_kw.get("plan_type", "elderly"),
        frequency="monthly",
        provider_id=setup["visitor"],
        start_on="2026-09-29",
    )
    tick(app)
    [visit] = visits(session_factory, plan["id"])
    r = client.post(f"/api/v1/orders/{visit.order_id}/accept", headers=setup["worker"])
    assert r.status_code == 200, r.text
    return plan, visit


def test_needs_found_become_orders_one_tap_one_request(client, app, setup, session_factory, clock) -> None:
    _, visit = _visit_accepted(client, app, setup, session_factory, clock)
    url = f"/api/v1/care-visits/{visit.id}/outcome"
    before = count(session_factory, Order)
    bad = {
        "outcome": "needs_found",
        "needs": [
            {"item_code": "HOME-01", "description": "卫生间水管漏水"},
            {"item_code": "NOPE-1", "description": "x"},
        ],
    }
    r = client.post(url, json=bad, headers=setup["worker"])
    assert r.status_code == 400 and r.json()["message"].startswith("需求：")
    assert (
        count(session_factory, Order) == before and visits(session_factory, visit.plan_id)[0].outcome is None
    )
    body = {
        "outcome": "needs_found",
        "answers": {"health": True, "food": False},
        "needs": [
            {"item_code": "HOME-01", "description": "卫生间水管漏水"},
            {"item_code": "ELD-01", "description": "老人做饭困难，需要助餐"},
        ],
        "note": "冰箱里没有食物",
    }
    key = {"Idempotency-Key": "visit-1-outcome"}
    first = client.post(url, json=body, headers=setup["worker"] | key)
    assert first.status_code == 200, first.text
    again = client.post(url, json=body, headers=setup["worker"] | key)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    needs = first.json()["visit"]["needs"]
    assert [n["item_code"] for n in needs] == ["HOME-01", "ELD-01"]
    assert count(session_factory, Order) == before + 2
    with session_factory() as s:
        for n in needs:
            o = s.get_one(Order, n["order_id"])
            assert o.channel == Channel.VISIT and o.resident_id == setup["resident"]
            assert any(e.action == "visit_need" for e in o.events)
        assert s.get_one(Order, visit.order_id).status == OrderStatus.COMPLETED
    # The same visit cannot be recorded twice (another key): 409, nothing more.
    r = client.post(url, json={"outcome": "well"}, headers=setup["worker"])
    assert r.status_code == 409 and r.json()["message"] == "此次探访已登记结果，不能重复登记"
    assert count(session_factory, Order) == before + 2


def test_three_misses_in_a_row_alert_the_supervisors_and_escalate(
    client, app, setup, session_factory, clock, operator
) -> None:
    _, visit = _visit_accepted(client, app, setup, session_factory, clock)
    visit_id = visit.id
    dues = []
    for attempt in (1, 2, 3):
        r = client.post(
            f"/api/v1/care-visits/{visit_id}/outcome", json={"outcome": "not_home"}, headers=operator
        )
        assert r.status_code == 200, r.text
        nxt = r.json()["next_visit"]
        assert nxt["attempt"] == attempt + 1 and nxt["order_id"] == visit.order_id
        dues.append(nxt["due_on"])
        alerts = count(
            session_factory, OutboxMessage, OutboxMessage.payload["kind"].as_string() == "visit_missed"
        )
        assert alerts == (1 if attempt == 3 else 0)
        with session_factory() as s:
            order = s.get_one(Order, visit.order_id)
            assert order.supervision == (Supervision.RED if attempt == 3 else Supervision.NONE)
        visit_id = nxt["id"]
        clock.advance(days=1)
    # Missed on Mon 09-28, Tue 09-29 and Wed 09-30: the third retry skips the holiday to Thu 10-08.
    assert dues == ["2026-09-29", "2026-09-30", "2026-10-08"]
    with session_factory() as s:
        [alert] = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "role:supervisor"))
        assert "翠苑一区社区" in alert.body and "连续3次上门未遇" in alert.body
        assert alert.order_id == visit.order_id
    # The fourth attempt is recorded well: the visit order completes.
    r = client.post(
        f"/api/v1/care-visits/{visit_id}/outcome",
        json={"outcome": "well", "answers": {"health": True}},
        headers=operator,
    )
    assert r.status_code == 200, r.text
    assert count(session_factory, Order, Order.status == OrderStatus.COMPLETED) == 1


def test_coverage_matches_a_hand_count(client, world, login, session_factory, clock) -> None:
    clock.set(at(2026, 12, 20))
    supervisor = login(Role.SUPERVISOR)
    a_res = add_resident(session_factory, world, name="王秀英", phone="+8613800138001")
    b_res = add_resident(
        session_factory, world, name="李建国", phone="+8613800138002", c="c2", tags=("残疾",)
    )
    c_res = add_resident(session_factory, world, name="赵桂兰", phone="+8613800138003", tags=("特困",))
    d_res = add_resident(session_factory, world, name="孙海", phone="+8613800138004", tags=("空巢老人",))
    p1, p2 = add_visitor(session_factory, "网格员甲"), add_visitor(session_factory, "社工乙")
    done = lambda day: {"outcome": VisitOutcome.WELL, "recorded_at": at(2026, 12, day)}  # noqa: E731
    miss = lambda day: {"outcome": VisitOutcome.NOT_HOME, "recorded_at": at(2026, 12, day)}  # noqa: E731
    with session_factory() as s:

        def plan(resident, kind, freq, provider, start, active=True) -> VisitPlan:
            p = VisitPlan(
                resident_id=resident,
                plan_type=kind,
                frequency=freq,
                provider_id=provider,
                start_on=start,
                active=active,
                note="",
                next_period_on=start,
            )
            s.add(p)
            s.flush()
            return p

        def visit(p, period, due, attempt=1, **kw) -> None:
            s.add(
                CareVisit(
                    plan_id=p.id,
                    period_on=period,
                    due_on=due,
                    attempt=attempt,
                    created_at=at(2026, 11, 1),
                    **kw,
                )
            )

        a = plan(a_res, PlanType.ELDERLY, Frequency.WEEKLY, p1, date(2026, 11, 3))
        visit(a, date(2026, 12, 1), date(2026, 12, 1), **done(1))  # done
        visit(a, date(2026, 12, 8), date(2026, 12, 8))  # overdue
        visit(a, date(2026, 12, 29), date(2026, 12, 29))  # pending
        b = plan(b_res, PlanType.CARE, Frequency.MONTHLY, p2, date(2026, 11, 3))
        visit(b, date(2026, 11, 28), date(2026, 11, 30), **done(1))  # first due in November: not counted
        visit(b, date(2026, 12, 3), date(2026, 12, 3), **miss(3))
        visit(b, date(2026, 12, 3), date(2026, 12, 4), attempt=2, **done(4))  # done after one miss
        c = plan(c_res, PlanType.HARDSHIP, Frequency.MONTHLY, p2, date(2026, 10, 15))
        visit(c, date(2026, 12, 15), date(2026, 12, 15), **miss(15))
        visit(c, date(2026, 12, 15), date(2026, 12, 16), attempt=2, **miss(16))
        visit(c, date(2026, 12, 15), date(2026, 12, 17), attempt=3)  # overdue after two misses
        plan(d_res, PlanType.ELDERLY, Frequency.WEEKLY, p1, date(2026, 10, 1), active=False)  # paused
        s.commit()
    r = client.get("/api/v1/visit-plans/coverage?period=2026-12", headers=supervisor)
    assert r.status_code == 200, r.text
    body = r.json()
    cells = lambda c: [c[k] for k in ("planned", "done", "overdue", "pending", "not_home")]  # noqa: E731
    assert cells(body["total"]) == [5, 2, 2, 1, 3]
    assert {c["name"]: cells(c) for c in body["by_community"]} == {
        "翠苑一区社区": [4, 1, 2, 1, 2],
        "文新社区": [1, 1, 0, 0, 1],
    }
    assert {c["name"]: cells(c) for c in body["by_visitor"]} == {
        "网格员甲": [3, 1, 1, 1, 0],
        "社工乙": [2, 1, 1, 0, 3],
    }
    # A (weekly) was last found on 12-01, 19 days ago; C (monthly) never; B (monthly) on 12-04.
    assert [(u["resident_name"], u["last_visit_on"]) for u in body["unvisited"]] == [
        ("王**", "2026-12-01"),
        ("赵**", None),
    ]
    assert body["from"] == "2026-12-01" and body["to"] == "2027-01-01" and body["as_of"] == "2026-12-20"
    same = client.get("/api/v1/visit-plans/coverage?from=2026-12-01&to=2027-01-01", headers=supervisor).json()
    assert same == body
    r = client.get("/api/v1/visit-plans/coverage?period=2026-13", headers=supervisor)
    assert r.status_code == 400 and r.json()["message"] == "统计月份：格式应为 YYYY-MM"


def test_role_checks_and_a_provider_sees_only_its_visits(
    client, app, setup, world, login, session_factory, operator
) -> None:
    body = {
        "resident_id": setup["resident"],
        "plan_type": "elderly",
        "frequency": "weekly",
        "provider_id": setup["visitor"],
        "start_on": "2026-09-29",
    }
    for headers in (setup["worker"], operator, login(Role.ORG_ADMIN)):
        r = client.post("/api/v1/visit-plans", json=body, headers=headers)
        assert r.status_code == 403 and r.json()["message"]
    assert client.get("/api/v1/visit-plans", headers=setup["worker"]).status_code == 403
    plan = new_plan(client, setup["supervisor"], **body)
    r = client.patch(f"/api/v1/visit-plans/{plan['id']}", json={"active": False}, headers=setup["worker"])
    assert r.status_code == 403
    listed = client.get("/api/v1/visit-plans", headers=operator).json()
    assert listed["total"] == 1 and listed["items"][0]["resident_name"] == "王**"
    detail = client.get(f"/api/v1/visit-plans/{plan['id']}", headers=operator).json()
    assert detail["resident_name"] == "王秀英" and detail["resident_tags"] == ["独居老人"]

    other_resident = add_resident(session_factory, world, name="刘芳", phone="+8613800138009")
    other_visitor = add_visitor(session_factory, "社工丙")
    new_plan(
        client, setup["supervisor"], **(body | {"resident_id": other_resident, "provider_id": other_visitor})
    )
    tick(app)
    assert client.get("/api/v1/care-visits", headers=operator).json()["total"] == 2
    mine = client.get("/api/v1/care-visits", headers=setup["worker"]).json()
    assert mine["total"] == 1 and mine["items"][0]["checklist"][0]["code"] == "health"
    other_worker = login(Role.WORKER, provider_id=other_visitor)
    theirs = client.get("/api/v1/care-visits", headers=other_worker).json()["items"]
    assert [v["id"] for v in theirs] != [v["id"] for v in mine["items"]]
    r = client.post(
        f"/api/v1/care-visits/{mine['items'][0]['id']}/outcome",
        json={"outcome": "not_home"},
        headers=other_worker,
    )
    assert r.status_code == 403 and r.json()["message"] == "此次探访没有派给您，您不能登记结果"
    assert count(session_factory, CareVisit) == 2


def test_only_tagged_residents_get_a_plan_and_bad_input_changes_nothing(
    client, setup, world, session_factory
) -> None:
    untagged = add_resident(session_factory, world, name="周明", phone="+8613800138005", tags=("低保",))
    disabled = add_resident(session_factory, world, name="吴刚", phone="+8613800138006", tags=("残疾",))
    base = {
        "plan_type": "elderly",
        "frequency": "weekly",
        "provider_id": setup["visitor"],
        "start_on": "2026-09-29",
    }
    for resident, kind in ((untagged, "elderly"), (untagged, "hardship"), (disabled, "elderly")):
        r = client.post(
            "/api/v1/visit-plans",
            json=base | {"resident_id": resident, "plan_type": kind},
            headers=setup["supervisor"],
        )
        assert r.status_code == 400 and r.json()["error"] == "resident_not_eligible", r.text
        assert "标签" in r.json()["message"]
    r = client.post(
        "/api/v1/visit-plans",
        json=base | {"resident_id": disabled, "plan_type": "care", "frequency": "daily"},
        headers=setup["supervisor"],
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/visit-plans",
        json=base | {"resident_id": disabled, "start_on": "2026-09-01", "plan_type": "care"},
        headers=setup["supervisor"],
    )
    assert r.status_code == 400 and r.json()["message"] == "开始日期不能早于今天"
    assert count(session_factory, VisitPlan) == 0
    assert (
        new_plan(client, setup["supervisor"], **(base | {"resident_id": disabled, "plan_type": "care"}))[
            "plan_label"
        ]
        == "失能残疾照护探访"
    )
    r = client.post(
        "/api/v1/visit-plans",
        json=base | {"resident_id": disabled, "plan_type": "care"},
        headers=setup["supervisor"],
    )
    assert r.status_code == 409 and r.json()["error"] == "plan_exists"
    assert count(session_factory, VisitPlan) == 1
