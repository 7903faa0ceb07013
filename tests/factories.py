"""Small factories with keyword defaults for test data."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dispatch.auth.security import hash_password, issue_token
from models import Provider, ProviderKind, ProviderService, Role, User

_seq = itertools.count(1)
PASSWORD = "secret-pass-1"
_HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for the whole run


def make_user(
    session: Session, *, role: Role = Role.OPERATOR, username: str | None = None, **kw: Any
) -> User:
    user = User(
        username=username or f"{role.value}{next(_seq)}",
        role=role,
        password_hash=_HASH,
        display_name=kw.pop("display_name", "Test User"),
        **kw,
    )
    session.add(user)
    session.flush()
    return user


def make_provider(
    session: Session,
    *,
    kind: ProviderKind = ProviderKind.WORKER,
    name: str | None = None,
    lat: float = 30.27,
    lon: float = 120.13,
    item_ids: tuple[int, ...] = (),
    category_ids: tuple[int, ...] = (),
    **kw: Any,
) -> Provider:
    provider = Provider(kind=kind, name=name or f"provider {next(_seq)}", lat=lat, lon=lon, **kw)
    provider.services = [ProviderService(item_id=i) for i in item_ids] + [
        ProviderService(category_id=c) for c in category_ids
    ]
    session.add(provider)
    session.flush()
    return provider


def load_catalogue(session: Session) -> None:
    from dispatch.catalogue.csvio import read_catalogue
    from dispatch.catalogue.service import import_catalogue

    import_catalogue(session, read_catalogue())


def make_small_district(session: Session) -> dict[str, int]:
    """A street office, two communities with a grid each, a road, two compounds with buildings."""
    from models import Area, AreaKind, Place, PlaceKind

    district = Area(kind=AreaKind.DISTRICT, code="TD", name="测试区", lat=30.27, lon=120.13)
    session.add(district)
    session.flush()
    street = Area(
        kind=AreaKind.STREET, code="TS1", name="翠苑街道", parent_id=district.id, lat=30.29, lon=120.12
    )
    session.add(street)
    session.flush()
    c1 = Area(
        kind=AreaKind.COMMUNITY, code="TC1", name="翠苑一区社区", parent_id=street.id, lat=30.290, lon=120.120
    )
    c2 = Area(
        kind=AreaKind.COMMUNITY, code="TC2", name="文新社区", parent_id=street.id, lat=30.300, lon=120.100
    )
    session.add_all([c1, c2])
    session.flush()
    g1 = Area(
        kind=AreaKind.GRID, code="TG1", name="翠苑一区第1网格", parent_id=c1.id, lat=30.291, lon=120.121
    )
    g2 = Area(kind=AreaKind.GRID, code="TG2", name="文新第1网格", parent_id=c2.id, lat=30.301, lon=120.101)
    session.add_all([g1, g2])
    session.flush()
    road = Place(
        kind=PlaceKind.ROAD, name="文三路", community_id=c1.id, grid_id=g1.id, lat=30.285, lon=120.125
    )
    sun = Place(
        kind=PlaceKind.COMPOUND,
        name="阳光花园",
        aliases="阳光小区",
        community_id=c1.id,
        grid_id=g1.id,
        lat=30.2905,
        lon=120.1205,
    )
    wx = Place(
        kind=PlaceKind.COMPOUND, name="文新家园", community_id=c2.id, grid_id=g2.id, lat=30.3005, lon=120.1005
    )
    session.add_all([road, sun, wx])
    session.flush()
    b3 = Place(
        kind=PlaceKind.BUILDING,
        name="3幢",
        parent_id=sun.id,
        community_id=c1.id,
        grid_id=g1.id,
        lat=30.2906,
        lon=120.1206,
    )
    session.add(b3)
    session.flush()
    return {"c1": c1.id, "c2": c2.id, "g1": g1.id, "g2": g2.id, "sun": sun.id, "b3": b3.id, "wx": wx.id}


def bearer(user: User, settings: Any, *, minutes: int = 60) -> dict[str, str]:
    """Authorization headers for ``user``, minted directly (argon2 sign-in is slow on purpose)."""
    token = issue_token(
        user_id=user.id,
        role=user.role.value,
        version=user.token_version,
        secret=settings.auth.jwt_secret,
        now=datetime.now(UTC),
        minutes=minutes,
    )
    return {"Authorization": f"Bearer {token}"}


# --- the dispatcher's small world: a point in the test district and helpers around it -----------

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Wednesday 2025-11-12 10:00 in Hangzhou: an ordinary working morning.
START = datetime(2025, 11, 12, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
ORDER_POINT = (30.2906, 120.1206)  # 阳光花园 3幢 in the small test district


def north_of(point: tuple[float, float], km: float) -> tuple[float, float]:
    return point[0] + km / 111.2, point[1]


def add_provider(session_factory: Any, world: dict[str, int], *, km: float, **kw: Any) -> int:
    """A worker serving HOME-01 ``km`` north of the order point; returns its id."""
    lat, lon = north_of(ORDER_POINT, km)
    kw.setdefault("radius_km", 5.0)
    kw.setdefault("capacity", 3)
    kw.setdefault("phone", "+8613900000000")
    with session_factory() as s:
        p = make_provider(s, lat=lat, lon=lon, item_ids=(world["HOME-01"],), **kw)
        s.commit()
        return p.id


def new_order(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    """Take a request for HOME-01 at the order point over HTTP; returns the created order."""
    payload = {
        "caller_phone": "13800138000",
        "description": "厨房水管漏水",
        "item_code": "HOME-01",
        "channel": "phone",
        "address": "阳光花园3幢",
    }
    payload.update(body)
    r = client.post("/api/v1/orders", json=payload, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


# --- the working-day calendar: 春节 2027 as the State Council's notice would set it -----------

SPRING_2027 = {
    "name": "春节",
    "start": "2027-02-06",
    "end": "2027-02-12",
    "workdays": ["2027-02-14", "2027-02-20"],
}
# The days that period sets, as the calendar lists them: (day, is_workday, name).
SPRING_2027_DAYS = [
    *((f"2027-02-{d:02d}", False, "春节") for d in range(6, 13)),
    ("2027-02-14", True, "春节调休"),
    ("2027-02-20", True, "春节调休"),
]


def missed_call(call_id: str, at: datetime, caller: str = "13800138000") -> list[Any]:
    """A call to the hotline that rang 30 s at ``at`` and was missed: its two events."""
    from datetime import timedelta

    from dispatch.calls.events import CallEnded, CallRinging

    ended = at + timedelta(seconds=30)
    return [
        CallRinging(call_id, "simulator", caller, "12345", "hotline", None, at),
        CallEnded(call_id, "simulator", ended, "missed", 30, 0, caller, "hotline", None, at, None),
    ]
