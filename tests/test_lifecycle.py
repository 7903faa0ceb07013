"""Whole lives of orders through the action endpoints, with a controllable clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from models import Offer, OfferStatus, OutboxMessage, Provider, Rating, Role
from tests.factories import ORDER_POINT, SHANGHAI, add_provider, new_order, north_of
from tests.support.facts import assert_facts_current

pytestmark = pytest.mark.manual_dispatch


@pytest.fixture(autouse=True)
def facts_kept(engine):
    """Whatever a test did to orders, offers and ratings, their KPI fact rows followed."""
    yield
    assert_facts_current(engine)


def actions(client, order_id, headers) -> list[str]:
    return [e["action"] for e in client.get(f"/api/v1/orders/{order_id}", headers=headers).json()["timeline"]]


def test_a_whole_life(client, assigned, operator, session_factory, clock) -> None:
    order, worker, pid = assigned
    clock.advance(minutes=40)
    r = client.post(
        f"/api/v1/orders/{order['id']}/check-in",
        json={"lat": ORDER_POINT[0] + 0.0005, "lon": ORDER_POINT[1]},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "in_service" and r.json()["checkin_far"] is False
    assert 40 < r.json()["checkin_distance_m"] < 70
    clock.advance(minutes=50)
    r = client.post(
        f"/api/v1/orders/{order['id']}/complete", json={"note": "更换了水管接头，已试水不漏"}, headers=worker
    )
    assert r.status_code == 200 and r.json()["status"] == "completed"
    with session_factory() as s:
        assert s.get(Provider, pid).open_count == 0  # the slot is free again
        sms = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "+8613800138000")).all()
        assert len(sms) == 1 and "回复数字评价" in sms[0].body
    r = client.post(
        f"/api/v1/orders/{order['id']}/rate", json={"stars": 5, "comment": "师傅很专业"}, headers=operator
    )
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["rating_stars"] == 5
    with session_factory() as s:
        p = s.get(Provider, pid)
        assert (p.rating_count, p.rating_sum) == (1, 5)
    detail = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()
    assert [e["action"] for e in detail["timeline"]] == [
        "create",
        "offer",
        "accept",
        "check_in",
        "complete",
        "close",
    ]
    assert detail["completion_note"] == "更换了水管接头，已试水不漏"
    again = client.post(f"/api/v1/orders/{order['id']}/rate", json={"stars": 4}, headers=operator)
    assert again.status_code == 409


def test_far_check_in_is_flagged(client, assigned) -> None:
    order, worker, _ = assigned
    far = north_of(ORDER_POINT, 1.0)
    r = client.post(
        f"/api/v1/orders/{order['id']}/check-in", json={"lat": far[0], "lon": far[1]}, headers=worker
    )
    assert r.json()["checkin_far"] is True and r.json()["checkin_distance_m"] > 900


def test_only_the_assigned_worker_acts(client, assigned, login, world, session_factory, operator) -> None:
    order, _, _ = assigned
    other = login(Role.WORKER, provider_id=add_provider(session_factory, world, km=3))
    r = client.post(
        f"/api/v1/orders/{order['id']}/check-in", json={"lat": 30.29, "lon": 120.12}, headers=other
    )
    assert r.status_code in (403, 404)
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/complete", json={"note": "x"}, headers=operator
        ).status_code
        == 403
    )


def test_direct_completion_on_the_call(client, world, operator, login) -> None:
    order = new_order(
        client, operator, item_code="GOV-02", description="想咨询一下低保怎么申请", address=None
    )
    assert order["status"] == "received"
    worker = login(Role.WORKER)
    assert client.post(
        f"/api/v1/orders/{order['id']}/complete", json={"note": "x"}, headers=worker
    ).status_code in (403, 404)
    r = client.post(
        f"/api/v1/orders/{order['id']}/complete",
        json={"note": "已在电话中解答申请条件和材料"},
        headers=operator,
    )
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert actions(client, order["id"], operator) == ["create", "complete_direct"]


def test_cancel_withdraws_the_offer_and_frees_the_slot(client, world, operator, session_factory) -> None:
    pid = add_provider(session_factory, world, km=0.5)
    order = new_order(client, operator)
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={}, headers=operator)
    assert client.post(f"/api/v1/orders/{order['id']}/cancel", json={}, headers=operator).status_code == 422
    r = client.post(
        f"/api/v1/orders/{order['id']}/cancel", json={"reason": "居民已自行解决"}, headers=operator
    )
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    with session_factory() as s:
        assert s.get(Provider, pid).open_count == 0
        assert s.scalar(select(Offer.status)) == OfferStatus.WITHDRAWN
    again = client.post(f"/api/v1/orders/{order['id']}/cancel", json={"reason": "再撤一次"}, headers=operator)
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_low_rating_reopens_for_rework(client, assigned, operator, session_factory, login) -> None:
    order, worker, pid = assigned
    client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "处理完毕"}, headers=worker)
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/rate", json={"stars": 4, "reopen": True}, headers=operator
        ).status_code
        == 400
    )
    r = client.post(
        f"/api/v1/orders/{order['id']}/rate",
        json={"stars": 1, "comment": "还在漏水", "reopen": True},
        headers=operator,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "received" and body["reopen_count"] == 1
    assert actions(client, order["id"], operator)[-2:] == ["close", "reopen"]
    # Completed again later, it counts as completed again.
    sup = login(Role.SUPERVISOR)
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": pid}, headers=sup)
    client.post(f"/api/v1/orders/{order['id']}/accept", headers=worker)
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/complete", json={"note": "返工完成"}, headers=worker
        ).json()["status"]
        == "completed"
    )
    with session_factory() as s:
        assert [r.stars for r in s.scalars(select(Rating))] == [1]


def test_reopen_needs_a_supervisor(client, assigned, operator, login) -> None:
    order, worker, _ = assigned
    client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "好了"}, headers=worker)
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/reopen", json={"reason": "居民来电说没修好"}, headers=operator
        ).status_code
        == 403
    )
    r = client.post(
        f"/api/v1/orders/{order['id']}/reopen",
        json={"reason": "居民来电说没修好"},
        headers=login(Role.SUPERVISOR),
    )
    assert r.status_code == 200 and r.json()["status"] == "received" and r.json()["reopen_count"] == 1


def test_callback_outcomes(client, assigned, operator) -> None:
    order, worker, _ = assigned
    client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "好了"}, headers=worker)
    r = client.post(f"/api/v1/orders/{order['id']}/rate", json={"outcome": "unreachable"}, headers=operator)
    assert r.status_code == 200 and r.json()["status"] == "completed"  # try again later
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/rate", json={"outcome": "declined", "stars": 3}, headers=operator
        ).status_code
        == 400
    )
    r = client.post(f"/api/v1/orders/{order['id']}/rate", json={"outcome": "declined"}, headers=operator)
    assert r.json()["status"] == "closed"
    assert (
        client.post(f"/api/v1/orders/{order['id']}/rate", json={"stars": 6}, headers=operator).status_code
        == 422
    )


def test_extension_needs_a_supervisor_and_has_a_limit(client, assigned, operator, login) -> None:
    order, _, _ = assigned
    sup = login(Role.SUPERVISOR)
    body = {"working_days": 3, "reason": "需等待配件"}
    assert client.post(f"/api/v1/orders/{order['id']}/extend", json=body, headers=operator).status_code == 403
    before = datetime.fromisoformat(
        client.get(f"/api/v1/orders/{order['id']}", headers=sup).json()["complete_by"]
    )
    r = client.post(f"/api/v1/orders/{order['id']}/extend", json=body, headers=sup)
    assert r.status_code == 200 and r.json()["extension_days"] == 3
    after = datetime.fromisoformat(r.json()["complete_by"])
    # Wednesday + 24 h = Thursday; + 3 working days = next Tuesday, same clock time.
    assert (after.astimezone(SHANGHAI).date() - before.astimezone(SHANGHAI).date()).days == 5
    too_many = client.post(
        f"/api/v1/orders/{order['id']}/extend", json={"working_days": 8, "reason": "再等等"}, headers=sup
    )
    assert too_many.status_code == 400 and "10 working days" in too_many.json()["detail"]
    assert actions(client, order["id"], sup)[-1] == "extend"


def test_urge_texts_the_provider(client, assigned, login, session_factory) -> None:
    order, _, _ = assigned
    r = client.post(
        f"/api/v1/orders/{order['id']}/urge",
        json={"note": "居民再次来电催促"},
        headers=login(Role.SUPERVISOR),
    )
    assert r.status_code == 200
    with session_factory() as s:
        sms = s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "+8613911112222")).all()
        assert any(m.body.startswith("【督办】") and "居民再次来电催促" in m.body for m in sms)


def test_illegal_transitions_are_409_naming_the_state(
    client, world, operator, login, session_factory
) -> None:
    pid = add_provider(session_factory, world, km=0.5)
    order = new_order(client, operator)
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={}, headers=operator)
    worker = login(Role.WORKER, provider_id=pid)
    r = client.post(
        f"/api/v1/orders/{order['id']}/check-in", json={"lat": 30.29, "lon": 120.12}, headers=worker
    )
    assert r.status_code == 409 and "offered" in r.json()["detail"]
    r = client.post(f"/api/v1/orders/{order['id']}/rate", json={"stars": 5}, headers=operator)
    assert r.status_code == 409 and "offered" in r.json()["detail"]
