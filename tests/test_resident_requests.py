"""A resident's own requests (``/api/v1/r/requests``): filed through the call centre's intake,
followed in plain words to completion, rated, sent back for rework; photos; and nothing of anyone
else's (another resident's order is a 404 on every verb). Both databases, the clock frozen."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models import (
    AccessRecord,
    Attachment,
    IdempotencyKey,
    Order,
    OrderEvent,
    ProviderKind,
    Role,
)
from tests.factories import ORDER_POINT, make_provider, new_order
from tests.support.residents import e164, sign_in

MINE = "13912345678"
THEIRS = "13700001111"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"j" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 2000
MAX_MB = 0.05
AT_THE_DOOR = {"lat": ORDER_POINT[0], "lon": ORDER_POINT[1]}


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"uploads": settings.uploads.model_copy(update={"max_photo_mb": MAX_MB})}
    )


pytestmark = pytest.mark.frozen_clock


@pytest.fixture
def team(world, session_factory) -> dict[str, int]:
    """阳光社工服务中心 and its worker 王建国, 300 m from the order point, serving HOME-01."""
    with session_factory() as s:
        org = make_provider(
            s, kind=ProviderKind.ORGANISATION, name="阳光社工服务中心", phone="+8657188880000"
        )
        worker = make_provider(
            s,
            name="王建国",
            organisation_id=org.id,
            lat=ORDER_POINT[0] + 0.003,
            lon=ORDER_POINT[1],
            item_ids=(world["HOME-01"],),
            radius_km=5.0,
            capacity=3,
            phone="+8613900000001",
        )
        s.commit()
        return {"org": org.id, "worker": worker.id}


@pytest.fixture
def me(client, resident_sms):
    return sign_in(client, resident_sms, MINE)


@pytest.fixture
def worker(login, team):
    return login(Role.WORKER, provider_id=team["worker"])


def file(client, headers, key=None, **body):
    payload = {
        "description": "厨房水管漏水",
        "address": "阳光花园3幢2单元501室",
        "item_code": "HOME-01",
        "channel": "web",
    }
    payload.update(body)
    h = {**headers, **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/r/requests", json=payload, headers=h)


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def codes(view) -> list[str]:
    return [step["code"] for step in view["timeline"]]


def test_a_request_goes_through_the_one_intake(client, me, team, operator, clock, session_factory) -> None:
    r = file(client, me, channel="app")
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["item_name"] == "水电维修" and mine["category_name"] == "家政维修"
    assert mine["address"] == "阳光花园3幢2单元501室" and mine["description"] == "厨房水管漏水"
    # Auto-dispatch offered it at once to the nearby worker: 正在安排, nobody named yet.
    assert (mine["status"], mine["status_text"]) == ("offered", "正在安排")
    assert mine["provider_name"] is None and mine["worker_first_name"] is None
    assert codes(mine) == ["received"] and mine["number"] in mine["timeline"][0]["text"]
    assert (mine["can_cancel"], mine["can_rate"], mine["can_rework"], mine["rating"]) == (
        True,
        False,
        False,
        None,
    )

    staff = client.get(f"/api/v1/orders/{mine['id']}", headers=operator).json()
    assert staff["channel"] == "app" and staff["caller_phone_national"] == "139****5678"
    assert staff["provider_id"] == team["worker"] and staff["priority"] == "normal"
    # HOME-01 is in the priority class: 30 minutes to sign for, 24 hours to complete.
    assert staff["sign_by"] and staff["complete_by"]
    created = clock.now()
    assert (staff["resident"]["name"], staff["resident_id"]) == (
        "未留名",
        client.get("/api/v1/r/me", headers=me).json()["id"],
    )
    assert datetime.fromisoformat(staff["complete_by"]) - created == timedelta(hours=24)
    assert [e["action"] for e in staff["timeline"]] == ["create", "offer"]
    assert staff["timeline"][0]["actor"] == "app:139****5678"
    with session_factory() as s:
        order = s.get_one(Order, mine["id"])
        assert order.caller_phone == e164(MINE) and order.created_by_id is None

    # The same category again within 7 days: flagged for the call centre as a possible duplicate.
    again = file(client, me, description="卫生间也在漏水").json()
    assert (
        client.get(f"/api/v1/orders/{again['id']}", headers=operator).json()["possible_duplicate_of"]
        == mine["number"]
    )


def test_the_safety_notice_and_the_visit_window(client, me, world, operator, clock) -> None:
    start = clock.now() + timedelta(days=1)
    r = file(
        client,
        me,
        description="家里闻到煤气味",
        item_code="HOME-10",
        preferred_from=start.isoformat(),
        preferred_to=(start + timedelta(hours=3)).isoformat(),
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert "燃气" in out["safety_notice"] and out["preferred_from"] and out["preferred_to"]
    staff = client.get(f"/api/v1/orders/{out['id']}", headers=operator).json()
    assert staff["priority"] == "urgent" and staff["preferred_from"] == out["preferred_from"]
    assert client.get("/api/v1/r/catalogue").json()["categories"][0]["items"][0]["name"]
    notices = {
        i["code"]: i["safety_notice"]
        for c in client.get("/api/v1/r/catalogue").json()["categories"]
        for i in c["items"]
    }
    assert "燃气" in notices["HOME-10"] and notices["HOME-01"] == ""
    suggested = client.get("/api/v1/r/suggest", params={"q": "闻到煤气味了"}).json()["suggestions"][0]
    assert suggested["item_code"] == "HOME-10" and "燃气" in suggested["safety_notice"]
    assert suggested["category_name"] == "家政维修"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"address": ""}, 422),
        ({"address": "   "}, 422),
        ({"description": ""}, 422),
        ({"channel": "phone"}, 422),
        ({"lat": 30.29}, 422),
        ({"item_code": "NOPE-99"}, 400),
        ({"preferred_from": "2025-11-13T09:00:00+08:00"}, 422),
        ({"preferred_from": "2025-11-13T12:00:00+08:00", "preferred_to": "2025-11-13T09:00:00+08:00"}, 422),
        ({"preferred_from": "2025-11-01T09:00:00+08:00", "preferred_to": "2025-11-01T12:00:00+08:00"}, 400),
        ({"preferred_from": "2026-06-01T09:00:00+08:00", "preferred_to": "2026-06-01T12:00:00+08:00"}, 400),
        ({"priority": "urgent"}, 422),
        ({"caller_phone": "13800000000"}, 422),
    ],
)
def test_bad_input_writes_nothing(client, me, world, session_factory, body, status) -> None:
    r = file(client, me, **body)
    assert r.status_code == status, r.text
    assert r.json()["message"] and r.json()["error"]
    assert count(session_factory, Order) == 0 and count(session_factory, IdempotencyKey) == 0


def test_a_retry_files_once(client, me, world, session_factory) -> None:
    first = file(client, me, key="k-1")
    again = file(client, me, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert count(session_factory, Order) == 1
    other = file(client, me, key="k-1", description="另一件事")
    assert (other.status_code, other.json()["error"]) == (409, "idempotency_key_reused")
    assert count(session_factory, Order) == 1


def test_a_resident_sees_their_orders_only_whoever_filed_them(
    client, me, resident_sms, world, operator, clock
) -> None:
    by_phone = new_order(client, operator, caller_phone=MINE, resident_name="王秀英")
    clock.advance(minutes=5)
    online = file(client, me).json()
    someone_else = new_order(client, operator, caller_phone=THEIRS, resident_name="李四")
    listed = client.get("/api/v1/r/requests", headers=me).json()
    assert listed["total"] == 2
    assert [i["id"] for i in listed["items"]] == [online["id"], by_phone["id"]]  # newest first
    assert listed["items"][1]["status_text"] in ("已受理", "正在安排")
    assert (
        client.get("/api/v1/r/requests", params={"limit": 1, "offset": 1}, headers=me).json()["items"][0][
            "id"
        ]
        == by_phone["id"]
    )

    # Another resident's order does not exist for me, on every verb.
    theirs = someone_else["id"]
    for method, path, kw in (
        ("GET", f"/api/v1/r/requests/{theirs}", {}),
        ("POST", f"/api/v1/r/requests/{theirs}/cancel", {"json": {}}),
        ("POST", f"/api/v1/r/requests/{theirs}/rate", {"json": {"stars": 1}}),
        ("POST", f"/api/v1/r/requests/{theirs}/rework", {"json": {}}),
        ("POST", f"/api/v1/r/requests/{theirs}/photos", {"files": {"file": ("p.jpg", JPEG, "image/jpeg")}}),
        ("GET", f"/api/v1/r/requests/{theirs}/photos/1", {}),
        ("GET", "/api/v1/r/requests/999999", {}),
    ):
        r = client.request(method, path, headers=me, **kw)
        assert (r.status_code, r.json()["error"]) == (404, "not_found"), (method, path, r.text)
        assert r.json()["message"] == "未找到这条诉求"
    detail = client.get(f"/api/v1/orders/{theirs}", headers=operator).json()
    assert detail["status"] != "cancelled"
    # Their own view of the same kind of call does show it.
    theirs_headers = sign_in(client, resident_sms, THEIRS)
    assert client.get(f"/api/v1/r/requests/{theirs}", headers=theirs_headers).status_code == 200


def test_followed_to_completion_rated_and_sent_back(
    client, me, team, worker, operator, clock, session_factory
) -> None:
    mine = file(client, me).json()
    oid = mine["id"]
    assert client.post(f"/api/v1/orders/{oid}/accept", headers=worker).status_code == 200
    view = client.get(f"/api/v1/r/requests/{oid}", headers=me).json()
    assert (view["status_text"], view["provider_name"], view["worker_first_name"]) == (
        "已安排服务人员",
        "阳光社工服务中心",
        "王师傅",
    )
    assert codes(view) == ["received", "dispatched"]
    assert view["timeline"][1]["text"].startswith("已安排服务人员：阳光社工服务中心 王师傅，将于")
    client.post(f"/api/v1/orders/{oid}/notes", json={"text": "内部：居民脾气急"}, headers=operator)
    client.post(f"/api/v1/orders/{oid}/check-in", json=AT_THE_DOOR, headers=worker)
    view = client.get(f"/api/v1/r/requests/{oid}", headers=me).json()
    assert view["status_text"] == "服务人员已到达" and view["can_cancel"] is False
    assert client.post(f"/api/v1/r/requests/{oid}/rate", json={"stars": 5}, headers=me).status_code == 409
    client.post(f"/api/v1/orders/{oid}/complete", json={"note": "更换了角阀"}, headers=worker)
    view = client.get(f"/api/v1/r/requests/{oid}", headers=me).json()
    assert view["status_text"] == "已完成" and (view["can_rate"], view["can_rework"]) == (True, False)
    assert codes(view) == ["received", "dispatched", "arrived", "completed"]
    text = " ".join(step["text"] for step in view["timeline"])
    assert "王建国" not in text and "内部" not in text and "角阀" not in text and "worker" not in text

    rated = client.post(
        f"/api/v1/r/requests/{oid}/rate", json={"stars": 2, "comment": "还在滴水"}, headers=me
    )
    assert rated.status_code == 200, rated.text
    view = rated.json()
    assert view["status"] == "closed" and view["rating"] == {"stars": 2, "comment": "还在滴水"}
    assert codes(view)[-1] == "rated" and "2星（不满意）" in view["timeline"][-1]["text"]
    assert (view["can_rate"], view["can_rework"]) == (False, True)
    again = client.post(f"/api/v1/r/requests/{oid}/rate", json={"stars": 1}, headers=me)
    assert (again.status_code, again.json()["error"]) == (409, "already_rated")

    clock.advance(days=6)
    r = client.post(f"/api/v1/r/requests/{oid}/rework", json={"reason": "水管还在漏"}, headers=me)
    assert r.status_code == 200, r.text
    view = r.json()
    assert codes(view)[-1] == "rework" and view["status"] in ("received", "offered")
    assert view["rating"] is None and view["can_rework"] is False
    staff = client.get(f"/api/v1/orders/{oid}", headers=operator).json()
    assert staff["reopen_count"] == 1
    reopen = next(e for e in staff["timeline"] if e["action"] == "reopen")
    assert reopen["note"] == "居民网上要求重办（2星）：水管还在漏" and reopen["actor"] == "web:139****5678"
    with session_factory() as s:
        actions = s.scalars(select(OrderEvent.action).where(OrderEvent.order_id == oid)).all()
    assert actions.count("close") == 1 and actions.count("reopen") == 1


def _completed(client, me, worker, **body) -> int:
    oid = file(client, me, **body).json()["id"]
    client.post(f"/api/v1/orders/{oid}/accept", headers=worker)
    client.post(f"/api/v1/orders/{oid}/check-in", json=AT_THE_DOOR, headers=worker)
    assert (
        client.post(f"/api/v1/orders/{oid}/complete", json={"note": "好了"}, headers=worker).status_code
        == 200
    )
    return oid


def test_rework_only_within_seven_days_of_one_or_two_stars(client, me, team, worker, clock) -> None:
    late = _completed(client, me, worker)
    client.post(f"/api/v1/r/requests/{late}/rate", json={"stars": 1}, headers=me)
    happy = _completed(client, me, worker, description="水龙头坏了")
    client.post(f"/api/v1/r/requests/{happy}/rate", json={"stars": 4}, headers=me)
    before = _completed(client, me, worker, description="灯不亮")
    r = client.post(f"/api/v1/r/requests/{before}/rework", json={}, headers=me)
    assert (r.status_code, r.json()["error"]) == (409, "not_reopenable")  # not rated yet
    r = client.post(f"/api/v1/r/requests/{happy}/rework", json={}, headers=me)
    assert (r.status_code, r.json()["error"]) == (409, "not_reopenable")
    assert "1–2 星" in r.json()["message"]
    clock.advance(days=7, seconds=1)
    assert client.get(f"/api/v1/r/requests/{late}", headers=me).json()["can_rework"] is False
    r = client.post(f"/api/v1/r/requests/{late}/rework", json={}, headers=me)
    assert (r.status_code, r.json()["error"]) == (409, "not_reopenable")


def test_cancel_before_the_visit_starts_only(client, me, team, worker, operator, session_factory) -> None:
    first = file(client, me).json()["id"]
    client.post(f"/api/v1/orders/{first}/accept", headers=worker)
    r = client.post(
        f"/api/v1/r/requests/{first}/cancel",
        json={"reason": "已经自己修好了"},
        headers=me,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status_text"], r.json()["timeline"][-1]["text"]) == (
        "已取消",
        "您已取消：已经自己修好了",
    )
    staff = client.get(f"/api/v1/orders/{first}", headers=operator).json()
    assert staff["timeline"][-1]["actor"] == "web:139****5678"
    with session_factory() as s:
        from models import Provider

        assert s.get_one(Provider, team["worker"]).open_count == 0  # the worker's slot is free again

    second = file(client, me, description="水龙头坏了").json()["id"]
    client.post(f"/api/v1/orders/{second}/accept", headers=worker)
    client.post(f"/api/v1/orders/{second}/check-in", json=AT_THE_DOOR, headers=worker)
    r = client.post(f"/api/v1/r/requests/{second}/cancel", headers=me)
    assert (r.status_code, r.json()["error"]) == (409, "not_cancellable")
    assert "12345" in r.json()["message"]
    assert client.get(f"/api/v1/orders/{second}", headers=operator).json()["status"] == "in_service"


def test_actions_honour_the_idempotency_key(client, me, team, worker, session_factory) -> None:
    oid = _completed(client, me, worker)
    h = {**me, "Idempotency-Key": "rate-1"}
    first = client.post(f"/api/v1/r/requests/{oid}/rate", json={"stars": 2}, headers=h)
    again = client.post(f"/api/v1/r/requests/{oid}/rate", json={"stars": 2}, headers=h)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    with session_factory() as s:
        from models import Rating

        assert s.scalar(select(func.count()).select_from(Rating)) == 1
    h = {**me, "Idempotency-Key": "rework-1"}
    assert client.post(f"/api/v1/r/requests/{oid}/rework", headers=h).status_code == 200
    assert client.post(f"/api/v1/r/requests/{oid}/rework", headers=h).status_code == 200
    with session_factory() as s:
        assert s.get_one(Order, oid).reopen_count == 1


def photo(client, oid, headers, data=JPEG, key=None, ctype="image/jpeg"):
    h = {**headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/api/v1/r/requests/{oid}/photos", files={"file": ("p.jpg", data, ctype)}, headers=h)


def test_up_to_three_photos_of_the_residents_own_request(
    client, me, resident_sms, world, operator, session_factory, settings
) -> None:
    oid = file(client, me).json()["id"]
    first = photo(client, oid, me, key="p-1")
    assert first.status_code == 201, first.text
    assert photo(client, oid, me, key="p-1").json() == first.json()  # a resend stores nothing twice
    assert photo(client, oid, me, PNG, ctype="application/octet-stream").status_code == 201
    assert photo(client, oid, me).status_code == 201
    r = photo(client, oid, me)
    assert (r.status_code, r.json()["error"]) == (409, "too_many_photos")
    assert photo(client, oid, me, b"GIF89a" + b"g" * 100, ctype="image/jpeg").status_code == 415
    assert photo(client, oid, me, JPEG + b"x" * int(MAX_MB * 1024 * 1024)).status_code == 413
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 3
    view = client.get(f"/api/v1/r/requests/{oid}", headers=me).json()
    assert len(view["photos"]) == 3 and view["photos"][0] == first.json()["id"]
    image = client.get(first.json()["url"], headers=me)
    assert image.status_code == 200 and image.content == JPEG
    assert image.headers["cache-control"] == "private, no-store"
    # The call centre sees them as intake photos; another resident does not.
    staff = client.get(f"/api/v1/orders/{oid}/photos", headers=operator).json()
    assert [p["stage"] for p in staff["items"]] == ["intake"] * 3
    other = sign_in(client, resident_sms, THEIRS)
    assert client.get(first.json()["url"], headers=other).status_code == 404
    # A finished request takes no more photos.
    client.post(f"/api/v1/r/requests/{oid}/cancel", headers=me)
    assert photo(client, oid, me).status_code == 409


def test_staff_reading_a_web_order_is_recorded_the_resident_reading_it_is_not(
    client, me, world, operator, session_factory
) -> None:
    oid = file(client, me).json()["id"]
    client.get(f"/api/v1/r/requests/{oid}", headers=me)
    client.get("/api/v1/r/requests", headers=me)
    client.get("/api/v1/r/me", headers=me)
    assert count(session_factory, AccessRecord) == 0
    client.get(f"/api/v1/orders/{oid}", headers=operator)
    with session_factory() as s:
        [row] = s.scalars(select(AccessRecord)).all()
    assert (row.action, row.order_id, row.role) == ("order_detail", oid, "operator")


def test_places_complete_an_address_from_the_gazetteer(client, world) -> None:
    places = client.get("/api/v1/r/places", params={"q": "阳光花园3"}).json()["places"]
    assert places[0] == {
        "text": "阳光花园 3幢",
        "kind": "building",
        "community": "翠苑一区社区",
        "lat": 30.2906,
        "lon": 120.1206,
    }
    assert [p["text"] for p in client.get("/api/v1/r/places", params={"q": "文三"}).json()["places"]] == [
        "文三路"
    ]
    assert client.get("/api/v1/r/places", params={"q": "火星基地"}).json()["places"] == []
    assert client.get("/api/v1/r/places", params={"q": ""}).status_code == 422


def test_the_worker_sees_the_window_the_resident_asked_for(client, me, team, worker, clock) -> None:
    start = clock.now() + timedelta(hours=3)
    window = {"preferred_from": start.isoformat(), "preferred_to": (start + timedelta(hours=2)).isoformat()}
    mine = file(client, me, **window).json()
    [card] = client.get("/api/v1/me/jobs", headers=worker).json()["items"]
    assert card["order_id"] == mine["id"] and card["preferred_from"] == mine["preferred_from"]
    client.post(f"/api/v1/orders/{mine['id']}/accept", headers=worker)
    step = client.get(f"/api/v1/r/requests/{mine['id']}", headers=me).json()["timeline"][-1]
    assert (
        step["code"] == "dispatched" and "将按您预约的时间上门：11月12日 13:00–11月12日 15:00" in step["text"]
    )
