"""A field worker's verbs under an Idempotency-Key: the phone app resends actions queued offline,
and a resent one must get the first answer and act only once."""

from __future__ import annotations

import uuid

import pytest

from models import Role
from tests.factories import ORDER_POINT, add_provider, new_order

pytestmark = pytest.mark.manual_dispatch


def timeline(client, order_id, headers) -> list[str]:
    return [e["action"] for e in client.get(f"/api/v1/orders/{order_id}", headers=headers).json()["timeline"]]


def post(client, path, headers, key, **kw):
    return client.post(path, headers={**headers, "Idempotency-Key": key}, **kw)


def test_resent_verbs_answer_as_the_first_and_act_once(
    client, world, operator, session_factory, login
) -> None:
    pid = add_provider(session_factory, world, km=0.5, phone="+8613911112222")
    order = new_order(client, operator)
    oid = order["id"]
    assert client.post(f"/api/v1/orders/{oid}/dispatch", json={}, headers=operator).status_code == 200
    worker = login(Role.WORKER, provider_id=pid)
    point = {"lat": ORDER_POINT[0], "lon": ORDER_POINT[1]}
    steps = [
        ("accept", None),
        ("check-in", point),
        ("complete", {"note": "已修好"}),
    ]
    for verb, body in steps:
        key = str(uuid.uuid4())
        kw = {"json": body} if body is not None else {}
        first = post(client, f"/api/v1/orders/{oid}/{verb}", worker, key, **kw)
        assert first.status_code == 200, first.text
        assert "Idempotent-Replayed" not in first.headers
        again = post(client, f"/api/v1/orders/{oid}/{verb}", worker, key, **kw)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
    assert timeline(client, oid, operator) == ["create", "offer", "accept", "check_in", "complete"]
    # Without a key a repeat is simply refused by the state machine, as before.
    assert (
        client.post(f"/api/v1/orders/{oid}/complete", json={"note": "x"}, headers=worker).status_code == 409
    )


def test_a_key_reused_for_another_request_is_refused(client, world, operator, session_factory, login) -> None:
    pid = add_provider(session_factory, world, km=0.5, phone="+8613911112222")
    order = new_order(client, operator)
    oid = order["id"]
    assert client.post(f"/api/v1/orders/{oid}/dispatch", json={}, headers=operator).status_code == 200
    worker = login(Role.WORKER, provider_id=pid)
    key = str(uuid.uuid4())
    assert post(client, f"/api/v1/orders/{oid}/accept", worker, key).status_code == 200
    point = {"lat": ORDER_POINT[0], "lon": ORDER_POINT[1]}
    reused = post(client, f"/api/v1/orders/{oid}/check-in", worker, key, json=point)
    assert reused.status_code == 409 and reused.json()["error"] == "idempotency_key_reused"
    assert timeline(client, oid, operator) == ["create", "offer", "accept"]


def test_a_refused_verb_is_not_remembered(client, world, operator, session_factory, login) -> None:
    """A refusal stores nothing: the same key may be sent again once the order allows the verb."""
    pid = add_provider(session_factory, world, km=0.5, phone="+8613911112222")
    order = new_order(client, operator)
    oid = order["id"]
    assert client.post(f"/api/v1/orders/{oid}/dispatch", json={}, headers=operator).status_code == 200
    worker = login(Role.WORKER, provider_id=pid)
    key = str(uuid.uuid4())
    point = {"lat": ORDER_POINT[0], "lon": ORDER_POINT[1]}
    early = post(client, f"/api/v1/orders/{oid}/check-in", worker, key, json=point)
    assert early.status_code == 409, early.text
    assert client.post(f"/api/v1/orders/{oid}/accept", headers=worker).status_code == 200
    assert post(client, f"/api/v1/orders/{oid}/check-in", worker, key, json=point).status_code == 200
    assert timeline(client, oid, operator) == ["create", "offer", "accept", "check_in"]
