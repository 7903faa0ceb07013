"""POST /api/v1/orders: classification, residents, geocoding, priority, deadlines, idempotency, bad input."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dispatch.validation import field_label
from models import IdempotencyKey, Order, OrderEvent, OrderStatus, Resident, Role
from tests.factories import load_catalogue, make_small_district


@pytest.fixture
def district(session_factory) -> dict[str, int]:
    with session_factory() as s:
        load_catalogue(s)
        ids = make_small_district(s)
        s.commit()
    return ids


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def post(client, headers, **body):
    payload = {
        "caller_phone": "13800138000",
        "description": "我家厨房水管爆了，水漫了一地",
        "channel": "phone",
    }
    payload.update(body)
    return client.post("/api/v1/orders", json=payload, headers=headers)


def test_create_classifies_locates_and_sets_deadlines(client, district, operator) -> None:
    r = post(client, operator, resident_name="张阿姨", address="文三路 阳光花园3幢2单元501室")
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["number"].count("-") == 1 and len(o["number"]) == 13
    assert o["status"] == "received"
    assert o["item_code"] == "HOME-01" and o["category_code"] == "HOME"
    assert o["suggestions"][0]["item_code"] == "HOME-01"
    assert (o["lat"], o["lon"]) == pytest.approx((30.2906, 120.1206))
    assert o["location_precision"] == "building"
    assert o["community_id"] == district["c1"] and o["grid_id"] == district["g1"]
    assert o["caller_phone"] == "+8613800138000"
    assert o["resident_created"] is True
    assert o["priority"] == "normal"
    # HOME-01 is a "priority" item: 30 min to sign for, 24 h to complete (wall clock).
    created = datetime.fromisoformat(o["created_at"])
    assert (datetime.fromisoformat(o["sign_by"]) - created).total_seconds() == 30 * 60
    assert (datetime.fromisoformat(o["complete_by"]) - created).total_seconds() == 24 * 3600
    detail = client.get(f"/api/v1/orders/{o['id']}", headers=operator).json()
    # No provider is registered in this district: auto-dispatch hands the order to a supervisor.
    assert [e["action"] for e in detail["timeline"]] == ["create", "to_supervisor"]
    assert detail["supervisor_queue_reason"]
    assert detail["timeline"][0]["to_status"] == "received"
    assert detail["timeline"][0]["actor"].startswith("operator:")


def test_explicit_item_urgent_and_safety_notice(client, district, operator) -> None:
    r = post(client, operator, description="老人反锁在门外进不去", item_code="HOME-04")
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["item_code"] == "HOME-04"
    assert o["priority"] == "urgent"  # the locksmith item is in the urgent SLA class
    assert "身份" in o["safety_notice"]


def test_coordinates_converted_from_gcj02(client, district, operator) -> None:
    # A point given by AMap (GCJ-02) is moved ~500 m back to WGS-84 before it is stored.
    r = post(client, operator, lat=30.2880, lon=120.1252, coord_system="gcj02")
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["lat"] != pytest.approx(30.2880, abs=1e-4)
    assert o["lat"] == pytest.approx(30.2880, abs=0.01)
    assert o["location_precision"] == "given"
    assert o["community_id"] == district["c1"]


def test_same_phone_same_resident_and_name_mismatch_flagged(
    client, district, operator, session_factory
) -> None:
    first = post(client, operator, resident_name="张阿姨", caller_phone="138-0013-8000").json()
    second = post(
        client,
        operator,
        resident_name="李师傅",
        caller_phone="+86 138 0013 8000",
        description="想咨询一下低保怎么申请",
    ).json()
    assert second["resident_id"] == first["resident_id"]
    assert second["resident_created"] is False
    assert second["name_mismatch"] is True
    with session_factory() as s:
        assert s.get(Resident, first["resident_id"]).name == "张阿姨"  # not overwritten
    assert count(session_factory, Resident) == 1


def test_repeat_request_flagged_as_possible_duplicate(client, district, operator) -> None:
    first = post(client, operator, address="阳光花园3幢").json()
    again = post(client, operator, description="厨房的水管还在漏水，快来人", address="阳光花园3幢").json()
    assert again["possible_duplicate_of"] == first["number"]
    other = post(client, operator, description="想咨询一下养老金怎么领取").json()
    assert other["possible_duplicate_of"] is None


def test_resident_location_used_when_no_place_given(client, district, operator) -> None:
    post(client, operator, address="文新家园")
    o = post(client, operator, description="想咨询一下居家养老服务怎么申请").json()
    assert o["location_precision"] == "building" or o["location_source"] == "resident"
    assert o["community_id"] == district["c2"]


def test_unresolvable_address_keeps_text_without_a_wrong_point(client, district, operator) -> None:
    o = post(client, operator, address="北京市海淀区中关村大街1号").json()
    assert o["lat"] is None and o["location_precision"] is None
    assert o["address"] == "北京市海淀区中关村大街1号"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"description": ""}, 422, "description"),
        ({"description": "   "}, 422, "description"),
        ({"description": "漏水" * 1001}, 422, "description"),
        ({"caller_phone": "12345"}, 400, "caller_phone"),
        ({"caller_phone": ""}, 422, "caller_phone"),
        ({"lat": 95, "lon": 120.1}, 422, "lat"),
        ({"lat": 30.2}, 422, "lon"),
        ({"item_code": "NOPE-99"}, 400, "item_code"),
        ({"channel": "fax"}, 422, "channel"),
        ({"priority": "very"}, 422, "priority"),
        ({"lat": "north", "lon": 120.1}, 422, "lat"),
        ({"coord_system": "mars"}, 422, "coord_system"),
        ({"status": "closed"}, 422, "status"),
        ({"description": "今天天气真不错"}, 400, "item_code"),
    ],
)
def test_bad_input_is_rejected_and_writes_nothing(
    client, district, operator, session_factory, body, status, field
) -> None:
    r = post(client, operator, **body)
    assert r.status_code == status, r.text
    err = r.json()
    assert set(err) == {"error", "detail", "message"}
    assert field in err["detail"]
    assert field_label(field) in err["message"]  # the same field, named in Chinese
    assert count(session_factory, Order) == 0
    assert count(session_factory, Resident) == 0
    assert count(session_factory, OrderEvent) == 0


def test_idempotency_key_returns_the_same_order(client, district, operator, session_factory) -> None:
    headers = {**operator, "Idempotency-Key": "call-42-take-1"}
    first = post(client, headers)
    again = post(client, headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(session_factory, Order) == 1
    reused = post(client, headers, description="完全不同的请求：想咨询低保")
    assert reused.status_code == 409
    assert reused.json()["error"] == "idempotency_key_reused"
    assert count(session_factory, Order) == 1


def test_idempotency_under_concurrent_retries(client, district, operator, session_factory) -> None:
    headers = {**operator, "Idempotency-Key": "burst-1"}
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def retry() -> None:
        try:
            barrier.wait()
            r = post(client, headers)
            results.append(r.json()["id"] if r.status_code == 201 else -r.status_code)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(set(results)) == 1 and results[0] > 0, results
    assert count(session_factory, Order) == 1
    assert count(session_factory, IdempotencyKey) == 1


def test_order_numbers_are_unique_under_concurrency(client, district, operator, session_factory) -> None:
    numbers: list[str] = []
    barrier = threading.Barrier(8)

    def create(i: int) -> None:
        barrier.wait()
        r = post(client, operator, caller_phone=f"1390000{i:04d}")
        assert r.status_code == 201, r.text
        numbers.append(r.json()["number"])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(numbers) == 8 and len(set(numbers)) == 8
    today = datetime.now(UTC).astimezone().strftime("%Y%m%d")
    assert all(n.split("-")[0] in (today, numbers[0].split("-")[0]) for n in numbers)


def test_roles(client, district, login) -> None:
    worker = login(Role.WORKER)
    assert post(client, worker).status_code == 403  # workers log home-visit requests only
    assert post(client, login(Role.ORG_ADMIN)).status_code == 403
    assert post(client, login(Role.SUPERVISOR)).status_code == 201


def test_list_filters_and_shape(client, district, operator) -> None:
    post(client, operator)
    post(client, operator, description="想咨询一下低保怎么申请", caller_phone="13900000001")
    r = client.get("/api/v1/orders", headers=operator, params={"item_code": "HOME-01"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1 and body["items"][0]["item_code"] == "HOME-01"
    assert client.get("/api/v1/orders", headers=operator, params={"limit": 1}).json()["total"] == 2
    assert len(client.get("/api/v1/orders", headers=operator, params={"limit": 1}).json()["items"]) == 1
    assert client.get("/api/v1/orders", headers=operator, params={"status": "closed"}).json()["total"] == 0
    assert client.get("/api/v1/orders", headers=operator, params={"status": "bogus"}).status_code == 422
    # A time without a zone is a bad value like any other (dispatch.inputs.AwareTime).
    assert (
        client.get("/api/v1/orders", headers=operator, params={"from": "2026-01-01T00:00:00"}).status_code
        == 422
    )
    assert client.get("/api/v1/orders/99999", headers=operator).status_code == 404


def test_workers_see_only_their_orders(client, district, operator, login) -> None:
    post(client, operator)
    worker = login(Role.WORKER)
    assert client.get("/api/v1/orders", headers=worker).json()["total"] == 0


def test_list_open_and_number_filters(client, district, operator, session_factory) -> None:
    numbers = [post(client, operator, caller_phone=f"1390000000{i}").json()["number"] for i in range(3)]
    with session_factory() as s:  # one finished, two still open, and every one flagged overdue
        for n in numbers:
            o = s.scalar(select(Order).where(Order.number == n))
            o.overdue = True
            if n == numbers[0]:
                o.status = OrderStatus.CLOSED
        s.commit()

    def listed(**params) -> list[str]:
        r = client.get("/api/v1/orders", headers=operator, params=params)
        assert r.status_code == 200, r.text
        assert r.json()["total"] == len(r.json()["items"])
        return sorted(o["number"] for o in r.json()["items"])

    assert listed(overdue="true") == sorted(numbers)
    assert listed(overdue="true", open="true") == sorted(numbers[1:])
    assert listed(open="false") == [numbers[0]]
    whole = numbers[1]
    assert listed(number=whole) == [whole]
    assert listed(number=whole.replace("-", "")) == [whole]
    assert listed(number=whole[-4:]) == [whole]
    assert listed(number=whole[-1:]) == [whole]  # the numbers of one day differ in their last digit
    assert listed(number="20000101-0001") == []
    for bad in ("abc", "0042%", "1234567", "2026-11-23"):
        r = client.get("/api/v1/orders", headers=operator, params={"number": bad})
        assert r.status_code in (400, 422), bad
        assert set(r.json()) >= {"error", "detail"}
