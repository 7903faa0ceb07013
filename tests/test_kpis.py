"""Supervisor KPIs: every metric, overall and grouped, against an independent computation.

The data set is written down as plain specs; the expected figures are worked out from the specs
with ordinary Python (``expected``) following DESIGN.md, not by calling the report code.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import literal, select

from dispatch import facts
from dispatch.catalogue.service import ensure_sla_classes
from dispatch.reports.api import router
from dispatch.reports.kpis import GroupBy, summarise
from dispatch.validation import field_label
from models import (
    Area,
    AreaKind,
    Call,
    CallDirection,
    Category,
    Channel,
    Disposition,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Rating,
    RatingOutcome,
    Role,
)
from tests.factories import make_provider

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 1, tzinfo=SH)
END = datetime(2025, 3, 8, tzinfo=SH)
PERIOD = {"from": START.isoformat(), "to": END.isoformat()}
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
S, OS, A, R = OrderStatus, OfferStatus, Disposition.ANSWERED, Disposition.ABANDONED


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=SH)


@dataclass
class O_:  # an order
    name: str
    item: str
    community: str | None
    provider: str | None
    status: OrderStatus
    created: datetime
    accepted: timedelta | None = None
    arrived: timedelta | None = None
    completed: timedelta | None = None
    complete_by: timedelta | None = None
    reopen_count: int = 0


@dataclass
class F_:  # an offer (times after the order's creation)
    order: str
    provider: str
    status: OfferStatus
    responded: timedelta | None
    sign_by: timedelta | None


@dataclass
class R_:  # a rating
    order: str
    provider: str
    stars: int | None
    outcome: RatingOutcome = RatingOutcome.RATED


@dataclass
class K_:  # a call
    caller: str
    started: datetime
    disposition: Disposition | None
    answered_after: float | None = None  # seconds
    direction: CallDirection = CallDirection.INBOUND


ITEMS = {
    "LIFE-01": ("LIFE", "水管维修"),
    "LIFE-02": ("LIFE", "家电维修"),
    "HEALTH-01": ("HEALTH", "上门护理"),
}
CATEGORIES = {"LIFE": "生活服务", "HEALTH": "医疗健康"}
COMMUNITIES = ("翠苑一区社区", "文新社区")
PROVIDERS = ("安心家政", "李师傅")
P1, P2 = PROVIDERS
C1, C2 = COMMUNITIES

ORDERS = [
    O_("o1", "LIFE-01", C1, P1, S.CLOSED, at(2, 9), 10 * MIN, 60 * MIN, 120 * MIN, DAY),
    O_("o2", "LIFE-01", C1, P2, S.COMPLETED, at(2, 10), 40 * MIN, 3 * HOUR, 2 * DAY, DAY),  # late
    O_("o3", "LIFE-02", C2, P1, S.CLOSED, at(3, 8), 5 * MIN, 30 * MIN, 90 * MIN, 3 * DAY, reopen_count=1),
    O_("o4", "HEALTH-01", C2, P2, S.CLOSED, at(4, 14), 20 * MIN, 50 * MIN, 200 * MIN, None),  # no deadline
    O_("o5", "HEALTH-01", None, None, S.CANCELLED, at(5, 9)),
    O_("o6", "LIFE-02", C1, None, S.RECEIVED, at(6, 11)),
    O_("o7", "HEALTH-01", C1, P1, S.IN_SERVICE, at(7, 0, 30), 15 * MIN, 45 * MIN, None, DAY),  # UTC: 6 March
    O_("o8", "LIFE-01", C2, None, S.OFFERED, at(1, 0, 10)),  # UTC: 28 February
    O_("o9", "LIFE-02", C1, P2, S.ACCEPTED, at(1, 15), 25 * MIN, None, None, DAY),
    # outside the period: a minute before it, and exactly at its (exclusive) end
    O_("x1", "LIFE-01", C1, P1, S.CLOSED, START - MIN, MIN, 2 * MIN, 3 * MIN, DAY),
    O_("x2", "HEALTH-01", C2, P2, S.COMPLETED, END, MIN, 2 * MIN, 3 * MIN, DAY),
]
OFFERS = [
    F_("o1", P1, OS.ACCEPTED, 10 * MIN, 30 * MIN),
    F_("o2", P1, OS.DECLINED, 5 * MIN, 30 * MIN),
    F_("o2", P2, OS.ACCEPTED, 40 * MIN, 35 * MIN),  # signed late
    F_("o3", P1, OS.ACCEPTED, 5 * MIN, 30 * MIN),
    F_("o3", P2, OS.EXPIRED, 2 * DAY, 2 * DAY),
    F_("o3", P1, OS.ACCEPTED, 2 * DAY + 10 * MIN, 2 * DAY + 30 * MIN),
    F_("o4", P2, OS.ACCEPTED, 20 * MIN, None),
    F_("o5", P1, OS.WITHDRAWN, HOUR, 30 * MIN),
    F_("o6", P2, OS.EXPIRED, 30 * MIN, 30 * MIN),
    F_("o7", P1, OS.ACCEPTED, 15 * MIN, 15 * MIN),  # exactly at the limit: in time
    F_("o8", P2, OS.PENDING, None, 30 * MIN),
    F_("o9", P2, OS.ACCEPTED, 25 * MIN, 30 * MIN),
    F_("x1", P1, OS.ACCEPTED, MIN, 30 * MIN),
    F_("x2", P2, OS.DECLINED, MIN, 30 * MIN),
]
RATINGS = [
    R_("o1", P1, 5),
    R_("o1", P1, None, RatingOutcome.UNREACHABLE),
    R_("o2", P2, 3),
    R_("o3", P1, 2),  # the rating that reopened it
    R_("o3", P1, 4),
    R_("o4", P2, 1),
    R_("x1", P1, 1),
    R_("x2", P2, 5),
]
NUM_A, NUM_B, NUM_C, NUM_D, NUM_E, NUM_F = (f"+861380000000{n}" for n in range(1, 7))
CALLS = [
    K_(NUM_A, at(2, 9), A, 10),
    K_(NUM_B, at(2, 10), A, 20),
    K_(NUM_C, at(3, 11), R),
    K_(NUM_D, at(3, 12), Disposition.MISSED),
    K_(NUM_A, at(2, 20), A, 15),  # 11 h after A's first call: a repeat, answered at exactly 15 s
    K_(NUM_B, at(3, 11), A, 5),  # 25 h after B's first call: not a repeat
    K_(NUM_E, START - 2 * HOUR, A, 3),  # before the period …
    K_(NUM_E, at(1, 1), Disposition.VOICEMAIL),  # … but makes this one a repeat
    K_(NUM_A, at(4, 9), A, 2, CallDirection.OUTBOUND),  # outbound: neither counted nor a "previous" call
    K_(NUM_A, at(4, 10), Disposition.MISSED),  # A's previous inbound call was 38 h before
    K_("", at(5, 9), Disposition.MISSED),  # withheld numbers are never repeats of each other
    K_("", at(5, 9, 30), R),
    K_(NUM_F, END, A, 4),  # at the end: outside
]


# --- the independent computation ----------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _p90(values: list[float]) -> float | None:
    return sorted(values)[math.ceil(0.9 * len(values)) - 1] if values else None


def _p50(values: list[float]) -> float | None:
    return sorted(values)[math.ceil(len(values) / 2) - 1] if values else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def order_figures(orders: list[O_], offers: list[F_], ratings: list[R_], min_stars: int) -> dict:
    done = [o for o in orders if o.status in (S.COMPLETED, S.CLOSED)]
    on_time = [o for o in done if o.complete_by is None or o.completed <= o.complete_by]
    cancelled = sum(o.status == S.CANCELLED for o in orders)
    reopened = sum(o.reopen_count >= 1 for o in orders)
    accepted = [f for f in offers if f.status == OS.ACCEPTED]
    in_time = [f for f in accepted if f.sign_by is None or f.responded <= f.sign_by]
    returned = [f for f in offers if f.status in (OS.DECLINED, OS.EXPIRED)]
    made = accepted + returned  # withdrawn and pending offers are not counted
    stars = [r.stars for r in ratings if r.outcome == RatingOutcome.RATED and r.stars is not None]
    figures = {
        "received": len(orders),
        "cancelled": cancelled,
        "completed": len(done),
        "completed_on_time": len(on_time),
        "closure_rate": _rate(len(done), len(orders) - cancelled),
        "on_time_rate": _rate(len(on_time), len(done)),
        "reopened": reopened,
        "reopen_rate": _rate(reopened, len(done)),
        "offers": len(offers),
        "offers_made": len(made),
        "offers_accepted": len(accepted),
        "offers_accepted_on_time": len(in_time),
        "offers_returned": len(returned),
        "sign_on_time_rate": _rate(len(in_time), len(made)),
        "return_rate": _rate(len(returned), len(offers)),
        "ratings": len(stars),
        "ratings_satisfied": sum(s >= min_stars for s in stars),
        "satisfaction_rate": _rate(sum(s >= min_stars for s in stars), len(stars)),
        "avg_rating": _mean(stars),
    }
    durations = {
        "accept": [_minutes(o.accepted) for o in orders if o.accepted is not None],
        "arrive": [_minutes(o.arrived) for o in orders if o.arrived is not None],
        "complete": [_minutes(o.completed) for o in done],
    }
    for name, values in durations.items():
        figures[f"mean_minutes_to_{name}"] = _mean(values)
        figures[f"p50_minutes_to_{name}"] = _p50(values)
        figures[f"p90_minutes_to_{name}"] = _p90(values)
    return figures


def call_figures(calls: list[K_], start: datetime, end: datetime) -> dict:
    inbound = [c for c in CALLS if c.direction == CallDirection.INBOUND]

    def repeat(c: K_) -> bool:
        return c.caller != "" and any(
            p.caller == c.caller and c.started - DAY <= p.started < c.started for p in inbound
        )

    mine = [c for c in calls if c.direction == CallDirection.INBOUND and start <= c.started < end]
    answered = [c for c in mine if c.disposition == A]
    quick = [c for c in answered if c.answered_after <= 15]
    abandoned = [c for c in mine if c.disposition == R]
    repeats = [c for c in mine if repeat(c)]
    return {
        "calls_inbound": len(mine),
        "calls_answered": len(answered),
        "calls_answered_15s": len(quick),
        "calls_abandoned": len(abandoned),
        "calls_repeat": len(repeats),
        "answer_rate": _rate(len(answered), len(mine)),
        "answered_15s_rate": _rate(len(quick), len(answered)),
        "abandon_rate": _rate(len(abandoned), len(mine)),
        "repeat_call_rate": _rate(len(repeats), len(mine)),
    }


def local_day(moment: datetime) -> str:
    return moment.astimezone(SH).date().isoformat()


def local_week(moment: datetime) -> str:
    day = moment.astimezone(SH).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def local_month(moment: datetime) -> str:
    return moment.astimezone(SH).strftime("%Y-%m")


CALENDAR_KEY = {"day": local_day, "week": local_week, "month": local_month}


def expected(group_by: str | None, min_stars: int = 4) -> dict:
    """{group key: figures}; keys: category/item code, provider/community name, local day."""
    orders = [o for o in ORDERS if START <= o.created < END]
    by_name = {o.name: o for o in orders}
    offers = [f for f in OFFERS if f.order in by_name]
    ratings = [r for r in RATINGS if r.order in by_name]
    if group_by is None:
        return {None: order_figures(orders, offers, ratings, min_stars) | call_figures(CALLS, START, END)}
    order_key = {
        "category": lambda o: ITEMS[o.item][0],
        "item": lambda o: o.item,
        "provider": lambda o: o.provider,
        "community": lambda o: o.community,
        **{name: (lambda o, f=f: f(o.created)) for name, f in CALENDAR_KEY.items()},
    }[group_by]
    offer_key = (lambda f: f.provider) if group_by == "provider" else (lambda f: order_key(by_name[f.order]))
    rating_key = (lambda r: r.provider) if group_by == "provider" else (lambda r: order_key(by_name[r.order]))
    keys = {order_key(o) for o in orders} | {offer_key(f) for f in offers} | {rating_key(r) for r in ratings}
    if group_by in CALENDAR_KEY:  # every day, week, month of the period, with orders or not
        keys |= {CALENDAR_KEY[group_by](START + n * DAY) for n in range(7)}
    out = {}
    for k in keys:
        out[k] = order_figures(
            [o for o in orders if order_key(o) == k],
            [f for f in offers if offer_key(f) == k],
            [r for r in ratings if rating_key(r) == k],
            min_stars,
        )
        if group_by in CALENDAR_KEY:
            # calls whose local day falls in the group, within the period
            days = [START + n * DAY for n in range(7) if CALENDAR_KEY[group_by](START + n * DAY) == k]
            out[k] |= call_figures(CALLS, days[0], days[-1] + DAY)
    return out


def assert_figures(got: dict, want: dict) -> None:
    for name, value in want.items():
        if isinstance(value, float):
            assert got[name] == pytest.approx(value, rel=1e-9), name
        else:
            assert got[name] == value, name


# --- the data in the database -------------------------------------------------------------------


@pytest.fixture
def app(app):
    """The app with the stats router, until dispatch.app includes it itself."""
    if not any(getattr(r, "path", "").startswith("/api/v1/stats") for r in app.routes):
        app.include_router(router)
    return app


@pytest.fixture
def world(session_factory) -> dict[str, dict[str, int]]:
    with session_factory() as s:
        ensure_sla_classes(s)
        cats = {code: Category(code=code, name_zh=name) for code, name in CATEGORIES.items()}
        s.add_all(cats.values())
        s.flush()
        items = {
            code: Item(code=code, category_id=cats[cat].id, name_zh=name, sla_class_code="normal")
            for code, (cat, name) in ITEMS.items()
        }
        district = Area(kind=AreaKind.DISTRICT, code="TD", name="测试区", lat=30.27, lon=120.13)
        s.add_all([*items.values(), district])
        s.flush()
        areas = {
            n: Area(kind=AreaKind.COMMUNITY, code=n, name=n, parent_id=district.id, lat=0, lon=0)
            for n in COMMUNITIES
        }
        s.add_all(areas.values())
        s.flush()
        providers = {name: make_provider(s, name=name).id for name in PROVIDERS}
        orders: dict[str, int] = {}
        for n, o in enumerate(ORDERS):
            after = lambda d, o=o: o.created + d if d is not None else None  # noqa: E731
            order = Order(
                number=f"T{n:04d}",
                channel=Channel.PHONE,
                status=o.status,
                item_id=items[o.item].id,
                category_id=items[o.item].category_id,
                description="test",
                community_id=areas[o.community].id if o.community else None,
                provider_id=providers[o.provider] if o.provider else None,
                created_at=o.created,
                accepted_at=after(o.accepted),
                arrived_at=after(o.arrived),
                completed_at=after(o.completed),
                complete_by=after(o.complete_by),
                reopen_count=o.reopen_count,
            )
            s.add(order)
            s.flush()
            orders[o.name] = order.id
        created = {o.name: o.created for o in ORDERS}
        for f in OFFERS:
            base = created[f.order]
            s.add(
                Offer(
                    order_id=orders[f.order],
                    provider_id=providers[f.provider],
                    status=f.status,
                    offered_at=base,
                    responded_at=base + f.responded if f.responded is not None else None,
                    sign_by=base + f.sign_by if f.sign_by is not None else None,
                )
            )
        for r in RATINGS:
            s.add(
                Rating(
                    order_id=orders[r.order],
                    provider_id=providers[r.provider],
                    stars=r.stars,
                    outcome=r.outcome,
                )
            )
        add_calls(s, CALLS, "test")
        s.commit()
        return {"providers": providers, "communities": {n: a.id for n, a in areas.items()}}


def add_calls(s, calls: list[K_], source: str) -> None:
    for n, c in enumerate(calls):
        answered = c.started + timedelta(seconds=c.answered_after) if c.answered_after is not None else None
        s.add(
            Call(
                source=source,
                external_id=f"{source}-{n}",
                direction=c.direction,
                caller=c.caller,
                started_at=c.started,
                answered_at=answered,
                disposition=c.disposition,
            )
        )


def get_summary(client, login, role: Role = Role.SUPERVISOR, **params) -> dict:
    r = client.get("/api/v1/stats/summary", params=PERIOD | params, headers=login(role))
    assert r.status_code == 200, r.text
    return r.json()


# --- tests --------------------------------------------------------------------------------------


def test_overall_matches_the_independent_computation(client, login, world) -> None:
    body = get_summary(client, login)
    assert body["from"] == "2025-03-01T00:00:00+08:00" and body["to"] == "2025-03-08T00:00:00+08:00"
    assert body["satisfied_min_stars"] == 4
    want = expected(None)[None]
    assert_figures(body, want)
    # Spot checks of the hand-made data, so a mistake in `expected` cannot hide one in the code.
    assert (body["received"], body["cancelled"], body["completed"], body["completed_on_time"]) == (9, 1, 4, 3)
    assert body["closure_rate"] == pytest.approx(4 / 8) and body["reopen_rate"] == pytest.approx(1 / 4)
    assert (
        body["offers"],
        body["offers_made"],
        body["offers_accepted"],
        body["offers_accepted_on_time"],
        body["offers_returned"],
    ) == (12, 10, 7, 6, 3)
    assert body["sign_on_time_rate"] == pytest.approx(6 / 10)  # over offers made, not accepted
    assert body["satisfaction_rate"] == pytest.approx(2 / 5) and body["avg_rating"] == pytest.approx(3.0)
    assert body["p90_minutes_to_complete"] == pytest.approx(2 * 24 * 60)
    assert (body["calls_inbound"], body["calls_answered"], body["calls_answered_15s"]) == (10, 4, 3)
    assert (body["calls_abandoned"], body["calls_repeat"]) == (2, 2)


@pytest.mark.parametrize("group_by", ["category", "item", "provider", "community", "day", "week", "month"])
def test_grouped_matches_the_independent_computation(client, login, world, group_by: str) -> None:
    body = get_summary(client, login, group_by=group_by)
    assert body["group_by"] == group_by
    want = expected(group_by)
    by_name = group_by in ("provider", "community")  # the spec names them; the API keys them by id
    got = {(g["label"] if by_name else g["key"]): g for g in body["groups"]}
    assert set(got) == set(want)
    for key, figures in want.items():
        assert_figures(got[key], figures)
        if group_by not in CALENDAR_KEY:
            assert "answer_rate" not in got[key]  # calls belong to no category or provider
    ids = world["providers"] if group_by == "provider" else world["communities"]
    for g in body["groups"]:
        if by_name:
            assert g["key"] == (ids[g["label"]] if g["label"] is not None else None)
        elif group_by in ("category", "item"):
            assert g["label"] == (CATEGORIES.get(g["key"]) or ITEMS[g["key"]][1])
        elif group_by == "week":
            year, week, _ = datetime.fromisoformat(g["key"]).isocalendar()
            assert g["label"] == f"{year}-W{week:02d}"
        else:
            assert g["label"] == g["key"]
    keys = [g["key"] for g in body["groups"]]
    assert keys[-1:] == [None] or None not in keys  # "no provider/community" comes last


def test_day_groups_use_the_local_date_and_list_every_day(client, login, world) -> None:
    body = get_summary(client, login, group_by="day")
    days = {g["key"]: g for g in body["groups"]}
    assert list(days) == [f"2025-03-0{d}" for d in range(1, 8)]
    assert days["2025-03-01"]["received"] == 2  # o8 was created on 28 February in UTC
    assert days["2025-03-07"]["received"] == 1
    assert days["2025-03-01"]["calls_repeat"] == 1  # repeat of a call from before the period


def test_week_and_month_groups(client, login, world) -> None:
    """1–7 March 2025 (Saturday to Friday): two ISO weeks, the first one's Monday in February."""
    weeks = get_summary(client, login, group_by="week")["groups"]
    assert [(g["key"], g["label"]) for g in weeks] == [("2025-02-24", "2025-W09"), ("2025-03-03", "2025-W10")]
    assert [g["received"] for g in weeks] == [4, 5]  # o8 and o9 on the 1st, o1 and o2 on the 2nd
    assert [g["calls_inbound"] for g in weeks] == [4, 6]
    (month,) = get_summary(client, login, group_by="month")["groups"]
    assert (month["key"], month["label"], month["received"], month["calls_inbound"]) == (
        "2025-03",
        "2025-03",
        9,
        10,
    )


def test_weeks_and_months_across_a_year_end_list_every_group(session_factory, world) -> None:
    start, end = datetime(2025, 12, 20, tzinfo=SH), datetime(2026, 3, 2, tzinfo=SH)
    with session_factory() as s:
        add_orders(s, [("LIFE-01", datetime(2026, 1, 31, 23, 59, tzinfo=SH), MIN)])
        add_orders(s, [("LIFE-02", datetime(2026, 2, 1, 0, 0, tzinfo=SH), 3 * MIN)], prefix="F")
        for result in summaries(s, start=start, end=end, group_by=GroupBy.MONTH):
            got = {g.key: g.metrics["received"] for g in result.groups}
            assert got == {"2025-12": 0, "2026-01": 1, "2026-02": 1, "2026-03": 0}
        for result in summaries(s, start=start, end=end, group_by=GroupBy.WEEK):
            labels = [g.label for g in result.groups]
            assert labels[:3] == ["2025-W51", "2025-W52", "2026-W01"] and labels[-1] == "2026-W09"
            assert result.groups[2].key == "2025-12-29"  # ISO week 1 of 2026 starts in 2025
            got = {g.label: g.metrics["received"] for g in result.groups if g.metrics["received"]}
            assert got == {"2026-W05": 2}  # Saturday 31 January and Sunday 1 February


def test_sign_on_time_rate_counts_offers_made(session_factory, world) -> None:
    """One of four offers accepted in time, one declined, one expired, one withdrawn: 1 / 3."""
    day = datetime(2025, 7, 1, 9, tzinfo=SH)
    with session_factory() as s:
        add_orders(s, [("LIFE-01", day, 10 * MIN)])
        order = s.scalars(select(Order).where(Order.number == "E0000")).one()
        provider = world["providers"][P1]
        for status, responded in (
            (OS.ACCEPTED, 10 * MIN),
            (OS.DECLINED, 5 * MIN),
            (OS.EXPIRED, 30 * MIN),
            (OS.WITHDRAWN, 20 * MIN),
        ):
            s.add(
                Offer(
                    order_id=order.id,
                    provider_id=provider,
                    status=status,
                    offered_at=day,
                    responded_at=day + responded,
                    sign_by=day + 30 * MIN,
                )
            )
        s.commit()
        for group_by in (None, GroupBy.PROVIDER):
            for result in summaries(s, start=day, end=day + DAY, group_by=group_by):
                figures = by_key(result)[provider if group_by else None]
                assert (figures["offers"], figures["offers_made"], figures["offers_accepted_on_time"]) == (
                    4,
                    3,
                    1,
                )
                assert figures["sign_on_time_rate"] == pytest.approx(1 / 3)
                assert figures["return_rate"] == pytest.approx(2 / 4)


def test_satisfaction_threshold_can_include_basically_satisfied(client, login, world, settings) -> None:
    settings.tracking.satisfied_min_stars = 3
    body = get_summary(client, login)
    assert body["satisfied_min_stars"] == 3
    assert body["satisfaction_rate"] == pytest.approx(3 / 5)
    assert_figures(body, expected(None, min_stars=3)[None])
    grouped = get_summary(client, login, group_by="provider")
    for key, figures in expected("provider", min_stars=3).items():
        assert_figures(next(g for g in grouped["groups"] if g["label"] == key), figures)


def test_empty_period_has_null_rates(client, login, world) -> None:
    params = {"from": "2020-01-01T00:00:00+08:00", "to": "2020-01-02T00:00:00+08:00"}
    body = get_summary(client, login, **params)
    assert body["received"] == 0 and body["calls_inbound"] == 0
    for name in ("closure_rate", "on_time_rate", "sign_on_time_rate", "return_rate", "satisfaction_rate"):
        assert body[name] is None, name
    for name in (
        "avg_rating",
        "answer_rate",
        "repeat_call_rate",
        "p90_minutes_to_accept",
        "mean_minutes_to_complete",
    ):
        assert body[name] is None, name
    assert get_summary(client, login, group_by="category", **params)["groups"] == []
    (day,) = get_summary(client, login, group_by="day", **params)["groups"]
    assert day["key"] == "2020-01-01" and day["received"] == 0 and day["answer_rate"] is None


def test_default_period_is_the_last_30_days(client, login, world, session_factory) -> None:
    now = datetime.now(UTC)
    with session_factory() as s:
        item = s.scalars(select(Item)).first()
        for n, age in enumerate((timedelta(days=1), timedelta(days=40))):
            s.add(
                Order(
                    number=f"D{n}",
                    channel=Channel.PHONE,
                    item_id=item.id,
                    category_id=item.category_id,
                    description="recent" if n == 0 else "old",
                    created_at=now - age,
                )
            )
        s.commit()
    r = client.get("/api/v1/stats/summary", headers=login(Role.OPERATOR))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["received"] == 1
    span = datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])
    assert span == timedelta(days=30)
    only_from = client.get(
        "/api/v1/stats/summary",
        params={"from": (now - timedelta(days=2)).isoformat()},
        headers=login(Role.ADMIN),
    )
    assert only_from.status_code == 200 and only_from.json()["received"] == 1


def test_csv_export_matches_the_summary(client, login, world) -> None:
    headers = login(Role.SUPERVISOR)
    r = client.get(
        "/api/v1/stats/export.csv", params=PERIOD | {"group_by": "category", "layout": "raw"}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    summary = get_summary(client, login, group_by="category")
    assert [row["key"] for row in rows] == [g["key"] for g in summary["groups"]]
    for row, group in zip(rows, summary["groups"], strict=True):
        assert row["label"] == group["label"] and row["group_by"] == "category"
        assert "answer_rate" not in row
        for name, value in group.items():
            if name in ("key", "label"):
                continue
            if value is None:
                assert row[name] == "", name
            else:
                assert float(row[name]) == pytest.approx(value, rel=1e-12), name
    overall = client.get("/api/v1/stats/export.csv", params=PERIOD | {"layout": "raw"}, headers=headers)
    (row,) = list(csv.DictReader(io.StringIO(overall.content.decode("utf-8-sig"))))
    assert row["from"] == PERIOD["from"] and row["key"] == "" and int(row["calls_inbound"]) == 10
    assert float(row["closure_rate"]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"from": "2025-03-01T00:00:00", "to": "2025-03-08T00:00:00+08:00"}, 422, "from"),
        ({"from": "2025-03-01T00:00:00+08:00", "to": "2025-03-08"}, 422, "to"),
        ({"from": "2025-03-08T00:00:00+08:00", "to": "2025-03-01T00:00:00+08:00"}, 400, "from"),
        ({"from": "2025-03-01T00:00:00+08:00", "to": "2025-03-01T00:00:00+08:00"}, 400, "from"),
        ({"from": "yesterday"}, 422, "from"),
        ({"group_by": "year"}, 422, "group_by"),
        ({"from": "2000-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z", "group_by": "week"}, 400, "to"),
        ({"from": "2000-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z", "group_by": "month"}, 400, "to"),
        ({"from": "2000-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z", "group_by": "day"}, 400, "to"),
    ],
)
def test_bad_parameters(client, login, world, params: dict, status: int, field: str) -> None:
    for path in ("/api/v1/stats/summary", "/api/v1/stats/export.csv"):
        r = client.get(path, params=params, headers=login(Role.SUPERVISOR))
        assert r.status_code == status, r.text
        body = r.json()
        assert set(body) == {"error", "detail", "message"} and body["detail"].startswith(f"{field}:"), body
        assert body["message"].startswith(f"{field_label(field)}："), body


def test_unencoded_plus_in_the_offset_is_understood(client, login, world) -> None:
    url = "/api/v1/stats/summary?from=2025-03-01T00:00:00 08:00&to=2025-03-08T00:00:00 08:00"
    r = client.get(url, headers=login(Role.SUPERVISOR))
    assert r.status_code == 200, r.text
    assert r.json()["received"] == 9


@pytest.mark.parametrize("role", [Role.WORKER, Role.ORG_ADMIN])
def test_workers_and_organisations_may_not_read_stats(client, login, world, role: Role) -> None:
    for path in ("/api/v1/stats/summary", "/api/v1/stats/export.csv"):
        r = client.get(path, params=PERIOD, headers=login(role))
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.get("/api/v1/stats/summary", params=PERIOD).status_code == 401


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR])
def test_staff_may_read_stats(client, login, world, role: Role) -> None:
    assert get_summary(client, login, role)["received"] == 9


def test_days_follow_daylight_saving_time(session_factory, world) -> None:
    """Local days in a zone with DST: the UTC offset changes inside the period."""
    ny = ZoneInfo("America/New_York")  # DST began 2025-03-09 02:00
    moments = [datetime(2025, 3, 8, 23, 30, tzinfo=ny), datetime(2025, 3, 9, 23, 30, tzinfo=ny)]
    moments.append(datetime(2025, 3, 10, 0, 30, tzinfo=ny))
    with session_factory() as s:
        item = s.scalars(select(Item)).first()
        for n, moment in enumerate(moments):
            s.add(
                Order(
                    number=f"NY{n}",
                    channel=Channel.PHONE,
                    item_id=item.id,
                    category_id=item.category_id,
                    description="dst",
                    created_at=moment,
                )
            )
        s.commit()
        summary = summarise(
            s,
            start=datetime(2025, 3, 8, tzinfo=ny),
            end=datetime(2025, 3, 11, tzinfo=ny),
            group_by=GroupBy.DAY,
            timezone="America/New_York",
        )
    assert [(g.key, g.metrics["received"]) for g in summary.groups] == [
        ("2025-03-08", 1),
        ("2025-03-09", 1),
        ("2025-03-10", 1),
    ]


def test_benchmark_runs_at_a_small_size() -> None:
    from dispatch.benchmarks.stats import bench_stats, format_stats

    result = bench_stats(orders=3000, runs=2)
    assert result["rows"]["orders"] == 3000 and result["month_orders"] > 0
    assert set(result["timings"]) == {
        "category",
        "provider",
        "overall",
        "day",
        "item",
        "community",
        "week",
        "month",
    }
    assert result["timings"]["day"]["groups"] == 28
    league = result["league"]  # 20 organisations, 180 of their workers
    assert set(league) == {"organisation", "worker"}
    assert 0 < league["organisation"]["rows"] <= 20 and 20 < league["worker"]["rows"] <= 180
    text = format_stats(result)
    assert "category" in text and "league table of the month" in text


# --- the two ways of counting, and the edges of the definitions ---------------------------------


def summaries(s, **kw) -> list:
    """The summary each way it can be counted: from the fact rows (the default), and directly from
    the orders, offers and ratings in numpy and (PostgreSQL) in SQL — the independent cross-check."""
    results = [summarise(s, **kw), summarise(s, from_facts=False, in_sql=False, **kw)]
    if s.get_bind().dialect.name == "postgresql":
        results.append(summarise(s, from_facts=False, in_sql=True, **kw))
    return results


def by_key(summary) -> dict:
    return {g.key: g.metrics for g in summary.groups}


@pytest.mark.parametrize("group_by", [None, *GroupBy])
def test_counting_in_sql_and_in_numpy_agree(session_factory, world, group_by) -> None:
    """The same figures, to the last bit, whichever way they are counted (and all as expected)."""
    with session_factory() as s:
        results = summaries(s, start=START, end=END, group_by=group_by)
        if s.get_bind().dialect.name == "sqlite":
            with pytest.raises(ValueError, match="PostgreSQL"):
                summarise(s, start=START, end=END, in_sql=True)
    first = results[0]
    for other in results[1:]:
        assert [(g.key, g.label) for g in other.groups] == [(g.key, g.label) for g in first.groups]
        assert by_key(other) == by_key(first)
    if group_by not in (GroupBy.PROVIDER, GroupBy.COMMUNITY):  # keyed like `expected`
        want = expected(group_by.value if group_by else None)
        assert set(by_key(first)) == set(want)
        for key, figures in want.items():
            assert_figures(by_key(first)[key], figures)


def add_orders(s, specs: list[tuple[str, datetime, timedelta | None]], prefix: str = "E") -> None:
    """Orders (item code, created, time to accept), closed when accepted."""
    items = {i.code: i for i in s.scalars(select(Item))}
    for n, (code, created, to_accept) in enumerate(specs):
        s.add(
            Order(
                number=f"{prefix}{n:04d}",
                channel=Channel.PHONE,
                status=S.CLOSED if to_accept is not None else S.RECEIVED,
                item_id=items[code].id,
                category_id=items[code].category_id,
                description="edge",
                created_at=created,
                accepted_at=created + to_accept if to_accept is not None else None,
                completed_at=created + 2 * to_accept if to_accept is not None else None,
            )
        )
    s.commit()


def test_durations_with_ties_single_orders_and_exact_ranks(session_factory, world) -> None:
    """p90 is nearest-rank with ties, with 10 values (0.9 · 10 is not exactly 9 in binary), and
    with a single value; a group whose orders have no timestamp has no durations."""
    day = datetime(2025, 5, 1, 9, tzinfo=SH)
    ties = [5, 5, 5, 7, 7, 9, 9, 9, 12, 12]  # minutes; rank 9 of 10 is the first 12
    eleven = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30]  # rank ceil(9.9) = 10: 10 minutes
    specs = [("LIFE-01", day + n * MIN, m * MIN) for n, m in enumerate(ties)]
    specs += [("LIFE-02", day + n * MIN, m * MIN + timedelta(milliseconds=n)) for n, m in enumerate(eleven)]
    specs += [("HEALTH-01", day, 42 * MIN + timedelta(milliseconds=250))]
    specs += [("HEALTH-01", day + HOUR, None)]  # received only: no duration
    with session_factory() as s:
        add_orders(s, specs)
        results = summaries(s, start=day, end=day + DAY, group_by=GroupBy.ITEM)
    for result in results:
        groups = by_key(result)
        assert set(groups) == {"LIFE-01", "LIFE-02", "HEALTH-01"}
        for code, minutes in (("LIFE-01", ties), ("LIFE-02", eleven)):
            values = [m + (n / 60_000 if code == "LIFE-02" else 0) for n, m in enumerate(minutes)]
            assert groups[code]["p90_minutes_to_accept"] == pytest.approx(_p90(values), abs=1e-12)
            assert groups[code]["p50_minutes_to_accept"] == pytest.approx(_p50(values), abs=1e-12)
            assert groups[code]["mean_minutes_to_accept"] == pytest.approx(_mean(values), rel=1e-12)
            assert groups[code]["p90_minutes_to_complete"] == pytest.approx(2 * _p90(values), abs=1e-12)
        assert groups["LIFE-01"]["p90_minutes_to_accept"] == 12
        assert groups["LIFE-01"]["p50_minutes_to_accept"] == 7  # rank 5 of 10
        assert groups["LIFE-02"]["p50_minutes_to_accept"] == pytest.approx(6 + 5 / 60_000)  # rank 6 of 11
        assert groups["LIFE-02"]["p90_minutes_to_accept"] == pytest.approx(10 + 9 / 60_000)
        health = groups["HEALTH-01"]
        assert health["received"] == 2 and health["p90_minutes_to_accept"] == pytest.approx(42 + 250 / 60_000)
        assert health["mean_minutes_to_arrive"] is None and health["p90_minutes_to_arrive"] is None
    if len(results) == 2:
        assert by_key(results[0]) == by_key(results[1])


def test_repeat_calls_at_the_edges(session_factory, world) -> None:
    """Two calls in the same millisecond repeat neither each other nor themselves; a third one
    does. Exactly 24 h apart is a repeat, a millisecond more is not."""
    t = datetime(2025, 6, 2, 10, tzinfo=SH)
    ms = timedelta(milliseconds=1)
    calls = [
        K_("+8613900000001", t, A, 3),
        K_("+8613900000001", t, R),  # the same millisecond
        K_("+8613900000001", t + HOUR, A, 3),
        K_("+8613900000002", t - DAY, A, 3),  # before the period
        K_("+8613900000002", t, A, 3),  # exactly 24 h later: a repeat
        K_("+8613900000003", t - DAY - ms, A, 3),
        K_("+8613900000003", t, A, 3),  # 24 h and 1 ms later: not
        K_("+8613900000004", t + 3 * HOUR, A, 3, CallDirection.OUTBOUND),
        K_("+8613900000004", t + 4 * HOUR, A, 16),  # the earlier call was outbound; waited > 15 s
    ]
    with session_factory() as s:
        add_calls(s, calls, "edge")
        s.commit()
        start = datetime(2025, 6, 2, tzinfo=SH)
        for group_by in (None, GroupBy.DAY):
            for result in summaries(s, start=start, end=start + DAY, group_by=group_by):
                figures = result.groups[0].metrics
                assert figures["calls_inbound"] == 6 and figures["calls_answered"] == 5
                assert figures["calls_answered_15s"] == 4 and figures["calls_abandoned"] == 1
                assert figures["calls_repeat"] == 2  # t + 1 h from …01, and …02


def test_repeat_calls_by_number_spelling(session_factory, world) -> None:
    """Caller numbers are told apart exactly however they are spelt: a leading "+" or zero makes
    another number, and numbers that are not digits (kept as text) repeat only themselves."""
    t = datetime(2025, 6, 3, 10, tzinfo=SH)
    spellings = ["+5710001", "5710001", "05710001", "anonymous", "anonymous", "Anonymous", "", ""]
    calls = [K_(number, t + timedelta(minutes=n), A, 3) for n, number in enumerate(spellings)]
    with session_factory() as s:
        add_calls(s, calls, "spelling")
        s.commit()
        start = datetime(2025, 6, 3, tzinfo=SH)
        for result in summaries(s, start=start, end=start + DAY):
            figures = result.groups[0].metrics
            assert figures["calls_inbound"] == 8 and figures["calls_repeat"] == 1


def test_caller_codes_are_exact() -> None:
    codes = [facts.caller_code(n) for n in ("+5710001", "5710001", "05710001", "0" * 17, "9" * 17)]
    assert len(set(codes)) == len(codes) and all(0 < c < 1 << 62 for c in codes)
    assert facts.caller_code("") == facts.NO_NUMBER
    assert facts.caller_code("9" * 18) == facts.caller_code("ext. 12") == facts.TEXT_NUMBER


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("America/New_York", datetime(2025, 3, 8)),  # clocks forward on the 9th
        ("America/New_York", datetime(2025, 11, 1)),  # back on the 2nd
        ("Australia/Lord_Howe", datetime(2025, 4, 5)),  # back by half an hour on the 6th
        ("Asia/Kolkata", datetime(2025, 4, 5)),  # +05:30 all year
    ],
)
def test_local_days_match_the_zone_across_offset_changes(session_factory, world, zone, start) -> None:
    tz = ZoneInfo(zone)
    first = start.replace(tzinfo=tz)
    end = first + 3 * DAY
    instants = [first + n * timedelta(minutes=47) for n in range(int(3 * DAY / timedelta(minutes=47)))]
    instants += [first, end - timedelta(milliseconds=1)]
    with session_factory() as s:
        add_orders(s, [("LIFE-01", at, None) for at in instants])
        for n, at in enumerate(instants):
            s.add(
                Call(
                    source="dst",
                    external_id=f"dst-{n}",
                    direction=CallDirection.INBOUND,
                    caller="",
                    started_at=at,
                )
            )
        s.commit()
        results = summaries(s, start=first, end=end, group_by=GroupBy.DAY, timezone=zone)
    want: dict[str, int] = {}
    for at in instants:
        want[at.astimezone(tz).date().isoformat()] = want.get(at.astimezone(tz).date().isoformat(), 0) + 1
    for result in results:
        got = {g.key: (g.metrics["received"], g.metrics["calls_inbound"]) for g in result.groups}
        assert got == {day: (n, n) for day, n in want.items()}


@pytest.mark.parametrize("micros", [0, 1, 499, 500, 501, 1500, 2500, 86_399_999_500, 10**12 + 500])
@pytest.mark.parametrize("sign", [1, -1])
def test_milliseconds_are_rounded_half_away_from_zero(session, micros: int, sign: int) -> None:
    """ms_since on PostgreSQL (a float8 epoch, for speed) against exact integer rounding; SQLite's
    julianday() rounds ties its own way, so it is checked off the ties only."""
    from dispatch.reports.portable import ms_since
    from models import UTCDateTime

    origin = datetime(2025, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    at = origin + sign * timedelta(microseconds=micros)
    got = session.execute(select(ms_since(literal(at, UTCDateTime()), origin))).scalar_one()
    exact = sign * ((micros + 500) // 1000)
    if session.get_bind().dialect.name == "postgresql" or micros % 1000 != 500:
        assert got == exact


@pytest.mark.parametrize("signs", ["positive", "mixed"])
def test_milliseconds_in_numpy_round_like_sql(signs: str) -> None:
    """ms_since_us (numpy, with a shortcut when every instant is at or after the start) rounds
    half away from zero like ms_since."""
    import numpy as np

    from dispatch.reports.portable import ms_since_us, us_since_epoch

    start = datetime(2025, 3, 1, tzinfo=SH)
    micros = [0, 1, 499, 500, 501, 1500, 2500, 86_399_999_500, 10**12 + 500]
    offsets = micros + ([-m for m in micros] if signs == "mixed" else [])
    got = ms_since_us(np.array(offsets, dtype=np.int64) + us_since_epoch(start), start)
    assert got.tolist() == [(1 if m >= 0 else -1) * ((abs(m) + 500) // 1000) for m in offsets]


@pytest.mark.parametrize("span_ms", [3 * 86_400_000, 200 * 86_400_000])
def test_calls_are_ordered_by_number_then_time_as_lexsort_does(span_ms: int) -> None:
    """The two-sort order of calls (and its fallback for spans over 2^33 ms) equals np.lexsort's,
    ties aside: numbers of up to 57 bits, times before the start, several calls a millisecond."""
    import numpy as np

    from dispatch.reports.kpis import _by_number_then_time

    rng = np.random.default_rng(17)
    for n in (0, 1, 2, 50, 5000):
        caller = rng.integers(0, max(1, n // 4), n) * (1 << 40) + facts.caller_code("9" * 17) % (1 << 40)
        at = rng.integers(-86_400_000, span_ms, n) // 7 * 7
        got, want = _by_number_then_time(caller, at), np.lexsort((at, caller))
        assert sorted(got.tolist()) == list(range(n))
        assert caller[got].tolist() == caller[want].tolist() and at[got].tolist() == at[want].tolist()


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_postgres_reads_fact_rows_from_the_key_in_binary(backend, session_factory, world) -> None:
    """PostgreSQL: the fact tables' keys carry the packed blob (migration 0013: index-only scans),
    and the KPI queries that collect a period in one value get it in binary, the others in text.
    (SQLite's fact tables are WITHOUT ROWID, stored in key order with the blob in place.)"""
    from psycopg.pq import Format
    from sqlalchemy import event, text

    with session_factory() as s:
        for table in ("order_fact", "call_fact"):
            definition = s.execute(text(f"SELECT pg_get_indexdef('pk_{table}'::regclass)")).scalar_one()
            assert definition.endswith("INCLUDE (packed)"), definition
        formats: list[tuple[str, Format]] = []

        def note(_conn, cursor, statement, *_args) -> None:
            formats.append((statement, cursor.format))

        engine = s.get_bind()
        event.listen(engine, "after_cursor_execute", note)
        try:
            summarise(s, start=START, end=END, group_by=GroupBy.DAY)
            summarise(s, start=START, end=END, from_facts=False, in_sql=False)
            s.execute(select(Order.id).limit(1)).all()
        finally:
            event.remove(engine, "after_cursor_execute", note)
    collected = [f for sql, f in formats if "string_agg" in sql or "array_agg" in sql]
    assert len(collected) >= 4 and set(collected) == {Format.BINARY}
    assert [f for sql, f in formats if "_agg" not in sql][-1:] == [Format.TEXT]


@pytest.mark.parametrize("group_by", [None, GroupBy.CATEGORY, GroupBy.DAY])
def test_complaints_are_counted_alike_every_way(session_factory, world, group_by) -> None:
    """``complaint_max_stars`` (the league's 差评) adds ``complaints``: rated ratings of at most
    that many stars, by the group of their order (the same from the facts and directly), and
    the figures are absent when not asked for."""
    in_period = {o.name for o in ORDERS if START <= o.created < END}
    rated = [
        r
        for r in RATINGS
        if r.order in in_period and r.outcome == RatingOutcome.RATED and r.stars is not None
    ]
    with session_factory() as s:
        for most in (1, 2, 5):
            results = summaries(s, start=START, end=END, group_by=group_by, complaint_max_stars=most)
            for other in results[1:]:
                assert by_key(other) == by_key(results[0])
            total = sum(g.metrics["complaints"] for g in results[0].groups)
            assert total == sum(r.stars <= most for r in rated) and total > 0
        plain = summarise(s, start=START, end=END, group_by=group_by)
    assert all("complaints" not in g.metrics for g in plain.groups)
