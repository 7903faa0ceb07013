"""The 督办 dashboard's read endpoints: targets, calls by hour of day, the district map; and the
orders list's category/community filters the dashboard's click-through uses. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dispatch.reports.dashboard import calls_by_hour
from models import (
    Call,
    CallDirection,
    Category,
    Channel,
    Disposition,
    Item,
    Order,
    OrderStatus,
    ProviderCommunity,
    ProviderKind,
    ProviderStatus,
    Role,
)
from tests.factories import load_catalogue, make_provider, make_small_district

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 3, 1, tzinfo=SH)
END = datetime(2025, 3, 8, tzinfo=SH)
PERIOD = {"from": START.isoformat(), "to": END.isoformat()}
PATHS = ("/api/v1/stats/targets", "/api/v1/stats/calls/hourly", "/api/v1/stats/map")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=SH)


# (local start, direction, disposition): hours 8 and 9 busy, one call before and one at the end
CALLS = [
    (at(1, 0, 0), CallDirection.INBOUND, Disposition.ANSWERED),  # the period's first instant: hour 0
    (at(1, 8, 5), CallDirection.INBOUND, Disposition.ANSWERED),
    (at(2, 8, 59), CallDirection.INBOUND, Disposition.ABANDONED),
    (at(3, 9, 0), CallDirection.INBOUND, Disposition.ANSWERED),
    (at(3, 9, 30), CallDirection.INBOUND, Disposition.MISSED),
    (at(4, 9, 45), CallDirection.INBOUND, Disposition.VOICEMAIL),
    (at(5, 9, 50), CallDirection.OUTBOUND, Disposition.ANSWERED),  # outbound: not counted
    (at(7, 23, 59), CallDirection.INBOUND, Disposition.ABANDONED),
    (at(8, 0, 0), CallDirection.INBOUND, Disposition.ANSWERED),  # the end: outside
    (at(1, 0, 0) - timedelta(seconds=1), CallDirection.INBOUND, Disposition.ANSWERED),  # before
]


@pytest.fixture
def world(session_factory) -> dict[str, int | str]:
    with session_factory() as s:
        load_catalogue(s)
        ids = make_small_district(s)
        home = s.scalar(select(Item).where(Item.code == "HOME-01"))
        assert home is not None
        other = s.scalar(select(Item).where(Item.category_id != home.category_id).limit(1))
        assert other is not None
        ids["home_category"] = s.get_one(Category, home.category_id).code

        def order(
            n: int, item: Item, community: str | None, status: OrderStatus, created: datetime, **kw
        ) -> None:
            s.add(
                Order(
                    number=f"20250301-{n:04d}",
                    channel=Channel.PHONE,
                    status=status,
                    item_id=item.id,
                    category_id=item.category_id,
                    description="测试",
                    community_id=ids[community] if community else None,
                    created_at=created,
                    **kw,
                )
            )

        order(1, home, "c1", OrderStatus.RECEIVED, at(2, 10))
        order(2, home, "c1", OrderStatus.IN_SERVICE, at(2, 11), overdue=True)
        order(3, other, "c1", OrderStatus.COMPLETED, at(3, 10), overdue=True)  # late but closed
        order(4, other, "c2", OrderStatus.OFFERED, at(4, 10))
        order(5, home, None, OrderStatus.RECEIVED, at(4, 11))  # no community: on no point
        order(6, home, "c2", OrderStatus.RECEIVED, at(9, 10))  # after the period
        for n, (started, direction, disposition) in enumerate(CALLS):
            s.add(
                Call(
                    source="test",
                    external_id=f"t-{n}",
                    direction=direction,
                    caller="+8613800138000",
                    started_at=started,
                    disposition=disposition,
                )
            )
        org = make_provider(s, kind=ProviderKind.ORGANISATION, name="阳光服务社")
        w1 = make_provider(s, organisation_id=org.id)
        w2 = make_provider(s, organisation_id=org.id, status=ProviderStatus.SUSPENDED)
        s.add_all(
            [
                ProviderCommunity(provider_id=org.id, community_id=ids["c1"]),
                ProviderCommunity(provider_id=w1.id, community_id=ids["c1"]),
                ProviderCommunity(provider_id=w1.id, community_id=ids["c2"]),
                ProviderCommunity(provider_id=w2.id, community_id=ids["c2"]),
            ]
        )
        s.commit()
    return ids


def test_targets_come_from_the_settings(client, login, settings) -> None:
    r = client.get("/api/v1/stats/targets", headers=login(Role.SUPERVISOR))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["closure_rate"] == settings.targets.closure_rate == 0.98
    assert body["minutes_to_accept"] == 8.0
    assert body["tile_url"] == ""
    settings.targets.closure_rate = 0.9
    settings.dashboard.tile_url = "/tiles/{z}/{x}/{y}.png"
    body = client.get("/api/v1/stats/targets", headers=login(Role.OPERATOR)).json()
    assert body["closure_rate"] == 0.9
    assert body["tile_url"] == "/tiles/{z}/{x}/{y}.png"


def test_calls_by_local_hour(client, login, world) -> None:
    r = client.get("/api/v1/stats/calls/hourly", params=PERIOD, headers=login(Role.SUPERVISOR))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == START.isoformat() and body["to"] == END.isoformat()
    hours = {h["hour"]: h for h in body["hours"]}
    assert sorted(hours) == list(range(24))
    assert hours[0] == {"hour": 0, "inbound": 1, "answered": 1, "abandoned": 0, "unanswered": 0}
    assert hours[8] == {"hour": 8, "inbound": 2, "answered": 1, "abandoned": 1, "unanswered": 0}
    assert hours[9] == {"hour": 9, "inbound": 3, "answered": 1, "abandoned": 0, "unanswered": 2}
    assert hours[23] == {"hour": 23, "inbound": 1, "answered": 0, "abandoned": 1, "unanswered": 0}
    assert sum(h["inbound"] for h in body["hours"]) == 7


def test_hours_follow_daylight_saving_time(session_factory) -> None:
    """New York moves its clocks on 2025-03-09 at 02:00: a call at 15:30 UTC is 10:30 before and
    11:30 after."""
    ny = ZoneInfo("America/New_York")
    with session_factory() as s:
        for n, started in enumerate(
            [datetime(2025, 3, 8, 15, 30, tzinfo=UTC), datetime(2025, 3, 10, 15, 30, tzinfo=UTC)]
        ):
            s.add(
                Call(
                    source="test",
                    external_id=f"dst-{n}",
                    direction=CallDirection.INBOUND,
                    caller="+12125550100",
                    started_at=started,
                    disposition=Disposition.ANSWERED,
                )
            )
        s.commit()
        rows = calls_by_hour(
            s,
            start=datetime(2025, 3, 7, 20, tzinfo=ny),
            end=datetime(2025, 3, 12, tzinfo=ny),
            timezone="America/New_York",
        )
    assert {r.hour: r.inbound for r in rows if r.inbound} == {10: 1, 11: 1}


def test_map_counts_orders_and_providers_per_community(client, login, world) -> None:
    r = client.get("/api/v1/stats/map", params=PERIOD, headers=login(Role.ADMIN))
    assert r.status_code == 200, r.text
    points = {p["code"]: p for p in r.json()["communities"]}
    assert set(points) == {"TC1", "TC2"}
    c1, c2 = points["TC1"], points["TC2"]
    assert (c1["lat"], c1["lon"], c1["name"], c1["id"]) == (30.29, 120.12, "翠苑一区社区", world["c1"])
    assert (c1["received"], c1["open"], c1["overdue"]) == (3, 2, 1)
    assert (c2["received"], c2["open"], c2["overdue"]) == (1, 1, 0)
    assert (c1["organisations"], c1["workers"]) == (1, 1)
    assert (c2["organisations"], c2["workers"]) == (0, 1)  # the suspended worker is left out
    assert set(c1) == {
        "id",
        "code",
        "name",
        "lat",
        "lon",
        "received",
        "open",
        "overdue",
        "organisations",
        "workers",
    }


def test_orders_list_filters_by_category_and_community(client, login, world) -> None:
    headers = login(Role.SUPERVISOR)
    with_home = client.get(
        "/api/v1/orders",
        params=PERIOD | {"category": world["home_category"], "community_id": world["c1"]},
        headers=headers,
    )
    assert with_home.status_code == 200, with_home.text
    numbers = sorted(o["number"] for o in with_home.json()["items"])
    assert numbers == ["20250301-0001", "20250301-0002"]
    live = client.get(
        "/api/v1/orders", params=PERIOD | {"community_id": world["c1"], "open": "true"}, headers=headers
    ).json()
    assert live["total"] == 2
    assert client.get("/api/v1/orders", params={"category": "NOPE"}, headers=headers).json()["total"] == 0


@pytest.mark.parametrize("path", PATHS[1:])
def test_bad_periods_are_refused(client, login, world, path: str) -> None:
    headers = login(Role.SUPERVISOR)
    r = client.get(path, params={"from": END.isoformat(), "to": START.isoformat()}, headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "invalid_period"
    assert "开始时间" in r.json()["message"]
    r = client.get(path, params={"from": "2025-03-01T00:00:00"}, headers=headers)  # no time zone
    assert r.status_code == 422


@pytest.mark.parametrize("role", [Role.WORKER, Role.ORG_ADMIN])
@pytest.mark.parametrize("path", PATHS)
def test_providers_may_not_read_the_dashboard(client, login, world, role: Role, path: str) -> None:
    assert client.get(path, params=PERIOD if path != PATHS[0] else {}, headers=login(role)).status_code == 403
    assert client.get(path).status_code == 401
