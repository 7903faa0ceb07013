"""The worker's itinerary (GET /api/v1/me/jobs) and requests filed on a home visit (channel visit)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import Item, Order, OrderEvent, Resident, Role
from tests.factories import ORDER_POINT, add_provider, new_order

pytestmark = pytest.mark.manual_dispatch
WENXIN = (30.3005, 120.1005)  # 文新家园, about 2.5 km from 阳光花园


def _offer(client, operator, order_id, pid) -> None:
    r = client.post(f"/api/v1/orders/{order_id}/dispatch", json={"provider_id": pid}, headers=operator)
    assert r.status_code == 200, r.text


def test_the_itinerary_in_visit_order_with_what_the_worker_may_see(
    client, world, operator, login, session_factory
) -> None:
    pid = add_provider(session_factory, world, km=0.5)
    worker = login(Role.WORKER, provider_id=pid)
    held = new_order(client, operator, resident_name="王秀英")
    with session_factory() as s:
        s.get_one(Resident, s.get_one(Order, held["id"]).resident_id).tags = ["独居老人", "低保"]
        s.commit()
    _offer(client, operator, held["id"], pid)
    assert client.post(f"/api/v1/orders/{held['id']}/accept", headers=worker).status_code == 200
    offered = new_order(client, operator, caller_phone="13912345678", address="文新家园")
    _offer(client, operator, offered["id"], pid)

    near_sun = client.get(
        "/api/v1/me/jobs", params={"lat": ORDER_POINT[0], "lng": ORDER_POINT[1]}, headers=worker
    ).json()
    assert near_sun["total"] == 2
    job, offer = near_sun["items"]
    assert (job["order_id"], job["kind"], offer["kind"]) == (held["id"], "job", "offer")
    assert job["resident"] == {"name": "王秀英", "tags": ["独居老人"]}  # 低保 says nothing the visit needs
    assert job["caller_phone"] == "+8613800138000" and job["caller_phone_access"] == "full"
    assert job["distance_m"] < 50 and job["safety_notice"] is not None
    links = job["map_links"]
    assert links["geo"].startswith(f"geo:{ORDER_POINT[0]:.6f},{ORDER_POINT[1]:.6f}")
    assert links["amap"].startswith(
        f"https://uri.amap.com/marker?position={ORDER_POINT[1]:.6f},{ORDER_POINT[0]:.6f}"
    )
    assert "coord_type=wgs84" in links["baidu"] and "output=html" in links["baidu"]
    assert "check-in" in job["allowed_actions"] and "accept" in offer["allowed_actions"]
    # An offer shows nothing of the resident: no name, the number masked.
    assert offer["resident"] is None and offer["caller_phone"] is None
    assert offer["caller_phone_national"] == "139****5678" and offer["sign_by"]

    # Standing at 文新家园 the offer there comes first (both are due the same day).
    near_wx = client.get(
        "/api/v1/me/jobs", params={"lat": WENXIN[0], "lng": WENXIN[1]}, headers=worker
    ).json()
    assert [c["order_id"] for c in near_wx["items"]] == [offered["id"], held["id"]]
    # Without a position: no distances, the same cards.
    plain = client.get("/api/v1/me/jobs", headers=worker).json()
    assert plain["total"] == 2 and all(c["distance_m"] is None for c in plain["items"])
    r = client.get("/api/v1/me/jobs", params={"lat": 30.0}, headers=worker)
    assert r.status_code == 400 and r.json()["error"] == "invalid_position"
    assert client.get("/api/v1/me/jobs", headers=operator).status_code == 403


def visit(**body) -> dict:
    return {
        "caller_phone": "13800138000",
        "description": "上门时老人说家里水管漏水",
        "channel": "visit",
        "address": "阳光花园3幢",
        "consent": {"given": True, "method": "verbal", "note": "老人本人同意"},
    } | body


JPEG = b"\xff\xd8\xff\xe0" + b"j" * 100


def _photo(client, order_id: int, headers: dict[str, str], stage: str = "intake"):
    """Upload a (tiny) JPEG to the order at ``stage``; the response."""
    files = {"file": ("a.jpg", JPEG, "image/jpeg")}
    return client.post(
        f"/api/v1/orders/{order_id}/photos", files=files, data={"stage": stage}, headers=headers
    )


def _orders(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Order))


@pytest.mark.parametrize(
    "consent",
    [None, {"given": False, "method": "verbal"}],
)
def test_a_visit_request_needs_the_residents_consent(client, world, login, session_factory, consent) -> None:
    worker = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=0.5))
    r = client.post("/api/v1/orders", json=visit(consent=consent), headers=worker)
    assert r.status_code == 400 and r.json()["error"] == "consent_required"
    assert "同意" in r.json()["message"] and _orders(session_factory) == 0
    r = client.post("/api/v1/orders", json=visit(consent={"given": True, "method": "nodded"}), headers=worker)
    assert r.status_code == 422 and _orders(session_factory) == 0


def test_a_visit_request_with_consent_and_intake_photos(
    client, world, login, operator, session_factory
) -> None:
    worker = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=0.5))
    r = client.post(
        "/api/v1/orders",
        json=visit(),
        headers=worker,
    )
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["resident"] is None and order["caller_phone"] is None  # reveals nothing
    with session_factory() as s:
        o = s.get_one(Order, order["id"])
        assert (o.consent_method, o.consent_note) == ("verbal", "老人本人同意")
        created = s.scalar(
            select(OrderEvent).where(OrderEvent.order_id == o.id, OrderEvent.action == "create")
        )
        assert "居民口头同意" in created.note and created.data["consent"]["method"] == "verbal"
    assert client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()["consent_method"] == "verbal"

    up = _photo(client, order["id"], worker)
    assert up.status_code == 201, up.text
    listed = client.get(f"/api/v1/orders/{order['id']}/photos", headers=worker).json()
    assert [p["stage"] for p in listed["items"]] == ["intake"]
    # The filer is not the holder: visit photos are not theirs to add.
    assert _photo(client, order["id"], worker, "visit").status_code == 403


def patrol(**body) -> dict:
    """A grid worker's patrol report: what they found, where; no resident, so no number or consent."""
    return {"description": "3幢楼道灯不亮了，晚上很黑", "channel": "visit", "address": "阳光花园3幢"} | body


@pytest.mark.parametrize(
    ("description", "item_code"),
    [("3幢楼道灯不亮了，晚上很黑", "PRP-01"), ("独居老人好几天没见出门了，敲门没人应", "ELD-06")],
)
def test_patrol_reports_find_their_items(
    client, world, login, session_factory, description, item_code
) -> None:
    grid_worker = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=0.5))
    r = client.post("/api/v1/orders", json=patrol(description=description), headers=grid_worker)
    assert r.status_code == 201, r.text
    assert r.json()["item_code"] == item_code
    with session_factory() as s:
        assert s.scalar(select(Item.code).where(Item.code == item_code)) == item_code
    # A resident met on the same walk is filed for them, with their number and consent.
    r = client.post("/api/v1/orders", json=visit(description=description), headers=grid_worker)
    assert r.status_code == 201 and r.json()["item_code"] == item_code


def test_a_patrol_report_names_no_resident_and_takes_intake_photos(
    client, world, login, operator, session_factory
) -> None:
    residents_before = _residents(session_factory)
    grid_worker = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=0.5))
    r = client.post(
        "/api/v1/orders",
        json=patrol(lat=ORDER_POINT[0], lon=ORDER_POINT[1]),
        headers={**grid_worker, "Idempotency-Key": "patrol-1"},
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["resident"], report["caller_phone"], report["caller_phone_national"]) == (None, None, "")
    assert report["lat"] == pytest.approx(ORDER_POINT[0])
    with session_factory() as s:
        o = s.get_one(Order, report["id"])
        assert (o.resident_id, o.caller_phone, o.consent_method) == (None, "", None)
        created = s.scalar(
            select(OrderEvent).where(OrderEvent.order_id == o.id, OrderEvent.action == "create")
        )
        assert "巡查上报" in created.note
    assert _residents(session_factory) == residents_before  # nobody was made up
    # A resend answers the first report.
    again = client.post(
        "/api/v1/orders", json=patrol(lat=ORDER_POINT[0], lon=ORDER_POINT[1]),
        headers={**grid_worker, "Idempotency-Key": "patrol-1"},
    )  # fmt: skip
    assert again.json()["id"] == report["id"] and _orders(session_factory) == 1

    up = _photo(client, report["id"], grid_worker)
    assert up.status_code == 201, up.text
    # The call centre sees the report, with no resident and no number to reveal.
    seen = client.get(f"/api/v1/orders/{report['id']}", headers=operator).json()
    assert (seen["resident_id"], seen["caller_phone_national"], seen["caller_phone_access"]) == (
        None,
        "",
        "none",
    )
    assert [p["stage"] for p in client.get(f"/api/v1/orders/{report['id']}/photos", headers=operator).json()["items"]] == ["intake"]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"channel": "phone"}, "来电号码"),  # only a home visit's patrol report goes without a number
        ({"resident_name": "王秀英"}, "电话号码"),  # a name with no number matches no one
        ({"consent": {"given": True, "method": "verbal"}}, "电话号码"),  # whose consent?
    ],
)
def test_a_request_without_a_number_is_a_patrol_report_only(
    client, world, login, operator, session_factory, body, said
) -> None:
    grid_worker = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=0.5))
    who = operator if body.get("channel") == "phone" else grid_worker
    r = client.post("/api/v1/orders", json=patrol(**body), headers=who)
    assert r.status_code == 422, r.text
    assert said in r.json()["message"] and _orders(session_factory) == 0


def test_the_call_centre_files_a_visit_request_with_intake_photos(
    client, world, operator, session_factory
) -> None:
    r = client.post("/api/v1/orders", json=visit(), headers=operator)
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    assert _photo(client, order_id, operator).status_code == 201
    # Photos at the door and of the result are the holding provider's.
    assert _photo(client, order_id, operator, "completion").status_code == 403
    listed = client.get(f"/api/v1/orders/{order_id}/photos", headers=operator).json()
    assert [p["stage"] for p in listed["items"]] == ["intake"]


def _residents(session_factory) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(Resident))
