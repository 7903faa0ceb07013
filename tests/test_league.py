"""The star evaluation and league table (GET /api/v1/stats/providers) on a small world counted by hand.

The orders, offers and ratings are written straight into the database; the expected figures
below are worked out by hand from them (README "Star evaluation and league table").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dispatch.catalogue.service import ensure_sla_classes
from dispatch.reports.kpis import GroupBy, summarise
from dispatch.reports.league import Period, star_level
from dispatch.validation import field_label
from models import (
    Category,
    Channel,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    ProviderKind,
    ProviderStatus,
    Rating,
    Role,
)
from tests.factories import make_provider

SH = ZoneInfo("Asia/Shanghai")
S, OS = OrderStatus, OfferStatus
MIN, DAY = timedelta(minutes=1), timedelta(days=1)


@dataclass
class O_:  # an order: who holds it, its status, when created, its offers and ratings
    holder: str | None
    status: OrderStatus
    created: datetime
    late: bool = False  # completed after complete_by
    reopened: bool = False
    offers: list[tuple[str, OfferStatus, bool]] = field(default_factory=list)  # (to, status, in time)
    stars: list[int] = field(default_factory=list)


def nov(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


ORDERS = [
    O_("A", S.CLOSED, nov(2), offers=[("A", OS.ACCEPTED, True)], stars=[5]),
    O_(
        "W1",
        S.COMPLETED,
        nov(3),
        late=True,
        offers=[("W2", OS.DECLINED, True), ("W1", OS.ACCEPTED, False)],
        stars=[2],
    ),
    O_("W1", S.CLOSED, nov(4), reopened=True, offers=[("W1", OS.ACCEPTED, True)], stars=[1, 4]),
    O_("W2", S.ACCEPTED, nov(5), offers=[("W2", OS.ACCEPTED, True)]),
    O_("B", S.CANCELLED, nov(6), offers=[("B", OS.WITHDRAWN, True)]),
    O_("B", S.COMPLETED, nov(7), offers=[("B", OS.EXPIRED, False), ("B", OS.ACCEPTED, True)], stars=[3]),
    O_("W3", S.CLOSED, nov(8), late=True, offers=[("W3", OS.ACCEPTED, True)], stars=[1]),
    O_(None, S.RECEIVED, nov(9), offers=[("W3", OS.EXPIRED, False)]),
    # October, half an hour before November in local time (UTC: still 31 October 15:30)
    O_(
        "W3",
        S.CLOSED,
        datetime(2026, 10, 31, 23, 30, tzinfo=SH),
        late=True,
        offers=[("W3", OS.EXPIRED, False), ("W3", OS.ACCEPTED, True)],
        stars=[1],
    ),
    # December, at the very start: outside November, inside the fourth quarter
    O_("W1", S.CLOSED, datetime(2026, 12, 1, tzinfo=SH), offers=[("W1", OS.ACCEPTED, True)], stars=[5]),
]


@pytest.fixture
def league_world(session_factory) -> dict[str, int]:
    return build_league_world(session_factory)


def build_league_world(session_factory) -> dict[str, int]:
    """Organisations 安心家政 (workers 李师傅, 王阿姨), 邻里社工 (suspended), 无单机构 (worker
    赵师傅, no orders), the independent worker 张师傅, and ``ORDERS``; {short name: id}."""
    with session_factory() as s:
        ensure_sla_classes(s)
        category = Category(code="LIFE", name_zh="生活服务")
        s.add(category)
        s.flush()
        item = Item(code="LIFE-01", category_id=category.id, name_zh="水管维修", sla_class_code="normal")
        s.add(item)
        s.flush()
        org = ProviderKind.ORGANISATION
        ids = {
            "A": make_provider(s, kind=org, name="安心家政").id,
            "B": make_provider(s, kind=org, name="邻里社工", status=ProviderStatus.SUSPENDED).id,
            "C": make_provider(s, kind=org, name="无单机构").id,
            "W3": make_provider(s, name="张师傅").id,
        }
        ids["W1"] = make_provider(s, name="李师傅", organisation_id=ids["A"]).id
        ids["W2"] = make_provider(s, name="王阿姨", organisation_id=ids["A"]).id
        ids["W4"] = make_provider(s, name="赵师傅", organisation_id=ids["C"]).id  # no orders
        for n, o in enumerate(ORDERS):
            done = o.status in (S.COMPLETED, S.CLOSED)
            order = Order(
                number=f"L{n:04d}",
                channel=Channel.PHONE,
                status=o.status,
                item_id=item.id,
                category_id=category.id,
                description="test",
                provider_id=ids[o.holder] if o.holder else None,
                worker_id=ids[o.holder] if o.holder and o.holder.startswith("W") else None,
                created_at=o.created,
                completed_at=o.created + (2 * DAY if o.late else DAY / 2) if done else None,
                complete_by=o.created + DAY,
                reopen_count=int(o.reopened),
            )
            s.add(order)
            s.flush()
            for to, status, in_time in o.offers:
                responded = (
                    None if status in (OS.PENDING, OS.EXPIRED) else o.created + (10 if in_time else 40) * MIN
                )
                s.add(
                    Offer(
                        order_id=order.id,
                        provider_id=ids[to],
                        status=status,
                        offered_at=o.created,
                        responded_at=responded,
                        sign_by=o.created + 30 * MIN,
                    )
                )
            for stars in o.stars:
                s.add(Rating(order_id=order.id, provider_id=order.provider_id, stars=stars))
        s.commit()
        return ids


def table(
    client, login, role: Role = Role.SUPERVISOR, status: int = 200, of: int | None = None, **params
) -> dict:
    """The table as ``role`` (an organisation admin ``of`` that organisation) sees it."""
    headers = login(role, provider_id=of) if of is not None else login(role)
    r = client.get("/api/v1/stats/providers", params=params, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def by_name(body: dict) -> dict[str, dict]:
    return {row["name"]: row for row in body["items"]}


def sign_on_time(session_factory, period: str, provider_id: int) -> float | None:
    """summarise's own sign-on-time rate of one provider (the league passes it through)."""
    start, end = Period.parse(period).bounds(SH)
    with session_factory() as s:
        summary = summarise(s, start=start, end=end, group_by=GroupBy.PROVIDER)
    return next(g.metrics["sign_on_time_rate"] for g in summary.groups if g.key == provider_id)


def test_organisations_add_up_their_workers_and_match_a_hand_count(
    client, login, league_world, session_factory
) -> None:
    body = table(client, login, period="2026-11", kind="organisation")
    assert (body["period"], body["kind"], body["total"]) == ("2026-11", "organisation", 2)
    assert body["from"] == "2026-11-01T00:00:00+08:00" and body["to"] == "2026-12-01T00:00:00+08:00"
    assert (body["floor"], body["warning_after_periods"]) == (2.5, 2)
    rows = by_name(body)
    assert list(rows) == ["安心家政", "邻里社工"]  # 无单机构 had no orders
    a = rows["安心家政"]  # its own order and its workers' (李师傅 2, 王阿姨 1)
    assert (a["rank"], a["provider_id"], a["kind"], a["organisation_id"]) == (
        1,
        league_world["A"],
        "organisation",
        None,
    )
    assert (a["orders"], a["completed"], a["offers"], a["returns"], a["ratings"], a["complaints"]) == (
        4,
        3,
        5,
        1,
        4,
        2,
    )
    assert a["closure_rate"] == pytest.approx(3 / 4) and a["on_time_rate"] == pytest.approx(2 / 3)
    assert a["reopen_rate"] == pytest.approx(1 / 3) and a["return_rate"] == pytest.approx(1 / 5)
    assert a["satisfaction_rate"] == pytest.approx(2 / 4) and a["avg_rating"] == pytest.approx(12 / 4)
    # accepted within the limit ÷ accepted, declined or expired
    assert a["sign_on_time_rate"] == pytest.approx(3 / 5)
    # 1 + 4 × (0.4·0.5 + 0.2·2/3 + 0.2·0.75 + 0.2·0.8) = 3.57…
    assert a["star_level"] == 3.6
    assert (a["star_level_previous"], a["star_change"], a["below_floor_periods"]) == (None, None, 0)
    assert (a["elimination_warning"], a["suspended"]) == (False, False)
    b = rows["邻里社工"]
    assert (b["rank"], b["orders"], b["completed"], b["offers"], b["returns"], b["complaints"]) == (
        2,
        2,
        1,
        3,
        1,
        0,
    )
    assert b["closure_rate"] == 1.0 and b["satisfaction_rate"] == 0.0 and b["avg_rating"] == 3.0
    assert b["star_level"] == 3.1 and b["suspended"] is True
    assert b["sign_on_time_rate"] == sign_on_time(session_factory, "2026-11", league_world["B"])


def test_workers_ranked_with_the_warning_after_two_low_periods(
    client, login, league_world, session_factory
) -> None:
    body = table(client, login, period="2026-11", kind="worker")
    assert [(r["name"], r["rank"]) for r in body["items"]] == [("李师傅", 1), ("张师傅", 2), ("王阿姨", 3)]
    rows = by_name(body)
    w1, w2, w3 = rows["李师傅"], rows["王阿姨"], rows["张师傅"]
    assert (w1["organisation_id"], w1["organisation_name"]) == (league_world["A"], "安心家政")
    assert w3["organisation_id"] is None and w3["organisation_name"] is None
    assert (w1["orders"], w1["completed"], w1["offers"], w1["returns"], w1["complaints"]) == (2, 2, 2, 0, 2)
    assert w1["star_level"] == 3.5  # 1 + 4 × (0.4/3 + 0.2·0.5 + 0.2 + 0.2)
    # 王阿姨: nothing completed and no rating: closure 0 and returns 1/2 alone make 1 + 4 × 0.25
    assert (w2["on_time_rate"], w2["satisfaction_rate"], w2["closure_rate"]) == (None, None, 0.0)
    assert w2["star_level"] == 2.0 and w2["below_floor_periods"] == 1 and not w2["elimination_warning"]
    # 张师傅: late, returned one of two offers, rated 1★, in October as in November
    assert w3["star_level"] == 2.2 and w3["star_level_previous"] == 2.2 and w3["star_change"] == 0.0
    assert w3["below_floor_periods"] == 2 and w3["elimination_warning"] is True
    for name, row in rows.items():
        assert row["sign_on_time_rate"] == sign_on_time(session_factory, "2026-11", row["provider_id"]), name
    avg = body["averages"]
    assert avg["providers"] == 3 and avg["orders"] == pytest.approx(1.3)
    assert avg["closure_rate"] == pytest.approx(3 / 4) and avg["return_rate"] == pytest.approx(2 / 6)
    assert avg["star_level"] == 2.6  # (3.5 + 2.0 + 2.2) / 3
    assert avg["complaints"] == 1.0 and avg["satisfaction_rate"] == pytest.approx(1 / 4)


def test_one_low_period_warns_when_so_configured(client, login, league_world, settings) -> None:
    settings.evaluation.warning_after_periods = 1
    settings.evaluation.floor_stars = 2.1
    rows = by_name(table(client, login, period="2026-11", kind="worker"))
    assert rows["王阿姨"]["elimination_warning"] is True and rows["张师傅"]["elimination_warning"] is False


def test_quarters_cover_three_months(client, login, league_world) -> None:
    body = table(client, login, period="2026-Q4", kind="worker")
    assert body["from"] == "2026-10-01T00:00:00+08:00" and body["to"] == "2027-01-01T00:00:00+08:00"
    rows = by_name(body)
    assert rows["李师傅"]["orders"] == 3 and rows["张师傅"]["orders"] == 2
    assert rows["张师傅"]["offers"] == 4 and rows["张师傅"]["returns"] == 2
    assert rows["张师傅"]["star_level_previous"] is None  # nothing in the third quarter
    assert table(client, login, period="2026-Q3", kind="worker")["items"] == []


def test_period_arithmetic() -> None:
    assert Period.parse("2026-01").previous().label == "2025-12"
    assert Period.parse("2026-Q1").previous().label == "2025-Q4"
    start, end = Period.parse("2026-Q1").bounds(SH)
    assert (start, end) == (datetime(2026, 1, 1, tzinfo=SH), datetime(2026, 4, 1, tzinfo=SH))
    assert star_level({"closure_rate": None}) is None
    assert star_level({"satisfaction_rate": 1.0, "return_rate": 0.0}) == 5.0
    # Offers only: all of them returned is judged (1 star); none returned (pending, withdrawn) is not.
    assert star_level({"closure_rate": None, "return_rate": 1.0}) == 1.0
    assert star_level({"closure_rate": None, "return_rate": 0.0}) is None


def test_an_organisation_admin_sees_only_their_own_and_the_averages(client, login, league_world) -> None:
    everyone = table(client, login, period="2026-11", kind="worker")
    mine = table(client, login, Role.ORG_ADMIN, period="2026-11", kind="worker", of=league_world["A"])
    assert [r["name"] for r in mine["items"]] == ["李师傅", "王阿姨"] and mine["total"] == 2
    assert mine["averages"] == everyone["averages"]
    orgs = table(client, login, Role.ORG_ADMIN, period="2026-11", kind="organisation", of=league_world["A"])
    assert [r["name"] for r in orgs["items"]] == ["安心家政"] and "邻里社工" not in str(orgs)
    other = table(client, login, Role.ORG_ADMIN, period="2026-11", kind="worker", of=league_world["B"])
    assert other["items"] == [] and other["total"] == 0


def test_roles_and_bad_periods(client, login, league_world) -> None:
    for role in (Role.ADMIN, Role.SUPERVISOR):
        assert table(client, login, role, period="2026-11")["total"] == 2
    for role in (Role.OPERATOR, Role.WORKER):
        assert table(client, login, role, 403, period="2026-11")["error"] == "forbidden"
    assert client.get("/api/v1/stats/providers", params={"period": "2026-11"}).status_code == 401
    page = table(client, login, period="2026-11", kind="worker", limit=1, offset=1)
    assert [r["name"] for r in page["items"]] == ["张师傅"] and page["total"] == 3
    for bad in ("2026-13", "2026-Q5", "202611", "26-11", "2026-11-01"):
        body = table(client, login, status=400 if len(bad) <= 7 else 422, period=bad)
        assert set(body) == {"error", "detail", "message"}
        assert body["message"].startswith(f"{field_label('period')}："), body
    assert table(client, login, status=422, period="2026-11", kind="team")["message"].startswith("类型：")
    assert table(client, login, status=422)["message"].startswith(f"{field_label('period')}：")
