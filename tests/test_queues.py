"""Every received order nobody can take waits in a queue; supervisors take offers back and give
them to someone else; staff keep internal notes; order payloads carry what the screens need."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Offer, OfferStatus, OutboxMessage, Provider, Resident, ResidentPhone, Role
from tests.factories import add_provider, new_order

pytestmark = pytest.mark.manual_dispatch


def queue(client, headers, name: str) -> list[str]:
    r = client.get("/api/v1/orders", params={"queue": name}, headers=headers)
    assert r.status_code == 200, r.text
    return [o["number"] for o in r.json()["items"]]


def test_a_dispatch_with_nobody_to_take_it_puts_the_order_in_the_supervisor_queue(
    client, world, operator, login
) -> None:
    order = new_order(client, operator)  # no provider serves HOME-01 here yet
    assert queue(client, operator, "dispatch") == [order["number"]]
    r = client.post(f"/api/v1/orders/{order['id']}/dispatch", json={}, headers=operator)
    assert r.status_code == 200, r.text
    assert (r.json()["offer_id"], r.json()["order_status"]) == (None, "received")
    assert r.json()["supervisor_queue_reason"] == "没有符合条件的服务方"
    supervisor = login(Role.SUPERVISOR)
    assert queue(client, supervisor, "supervisor") == [order["number"]]
    assert queue(client, supervisor, "dispatch") == []
    detail = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()
    assert detail["timeline"][-1]["action"] == "to_supervisor"
    assert "dispatch" not in detail["allowed_actions"]  # the operator hands it over
    # A provider named by the dispatcher who cannot take it is a refusal that changes nothing.
    r = client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": 999}, headers=supervisor)
    assert r.status_code == 404


def test_a_supervisor_takes_an_offer_back_and_gives_it_to_another(
    client, world, operator, login, session_factory
) -> None:
    first = add_provider(session_factory, world, km=0.5, phone="+8613911110001")
    second = add_provider(session_factory, world, km=2.0, phone="+8613911110002")
    order = new_order(client, operator)
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": first}, headers=operator)
    supervisor = login(Role.SUPERVISOR)
    assert (
        client.post(
            f"/api/v1/orders/{order['id']}/withdraw", json={"reason": "换近的"}, headers=operator
        ).status_code
        == 403
    )
    r = client.post(
        f"/api/v1/orders/{order['id']}/withdraw",
        json={"reason": "居民要求换人", "provider_id": second},
        headers=supervisor,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["order_status"], r.json()["provider_id"]) == ("offered", second)
    with session_factory() as s:
        offers = s.scalars(select(Offer).where(Offer.order_id == order["id"]).order_by(Offer.id)).all()
        assert [(o.provider_id, o.status) for o in offers] == [
            (first, OfferStatus.WITHDRAWN),
            (second, OfferStatus.PENDING),
        ]
        assert offers[0].reason == "居民要求换人"
        assert [s.get(Provider, p).open_count for p in (first, second)] == [0, 1]
        told = s.scalars(select(OutboxMessage.body).where(OutboxMessage.recipient == "+8613911110001")).all()
        assert any(b.startswith("【改派】") for b in told)
    timeline = client.get(f"/api/v1/orders/{order['id']}", headers=supervisor).json()["timeline"]
    assert [e["action"] for e in timeline][-3:] == ["offer", "withdraw", "offer"]
    # Not a return: the first provider may still be offered it later.
    assert client.get(f"/api/v1/orders/{order['id']}", headers=supervisor).json()["return_count"] == 0
    # Taking back without a new provider leaves the order waiting for the call centre.
    r = client.post(f"/api/v1/orders/{order['id']}/withdraw", json={"reason": "再看看"}, headers=supervisor)
    assert (r.json()["order_status"], r.json()["offer_id"]) == ("received", None)
    again = client.post(f"/api/v1/orders/{order['id']}/withdraw", json={"reason": "x"}, headers=supervisor)
    assert again.status_code == 409


def test_internal_notes_are_for_the_call_centre_only(client, world, operator, login, session_factory) -> None:
    pid = add_provider(session_factory, world, km=0.5)
    order = new_order(client, operator)
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": pid}, headers=operator)
    r = client.post(
        f"/api/v1/orders/{order['id']}/notes", json={"text": "居民听力差，需大声说话"}, headers=operator
    )
    assert r.status_code == 201 and r.json()["action"] == "note"
    staff_view = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()
    assert staff_view["timeline"][-1]["note"] == "居民听力差，需大声说话"
    worker = login(Role.WORKER, provider_id=pid)
    worker_view = client.get(f"/api/v1/orders/{order['id']}", headers=worker).json()
    assert all(e["action"] != "note" for e in worker_view["timeline"])
    assert (
        client.post(f"/api/v1/orders/{order['id']}/notes", json={"text": "x"}, headers=worker).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/orders/{order['id']}/notes", json={"text": ""}, headers=operator).status_code
        == 422
    )


def test_the_rating_callback_queue_is_soonest_due_first(
    client, world, operator, login, session_factory, clock
) -> None:
    pid = add_provider(session_factory, world, km=0.5)
    worker = login(Role.WORKER, provider_id=pid)
    numbers = []
    for _ in range(2):
        o = new_order(client, operator)
        client.post(f"/api/v1/orders/{o['id']}/dispatch", json={"provider_id": pid}, headers=operator)
        client.post(f"/api/v1/orders/{o['id']}/accept", headers=worker)
        numbers.append(o)
    client.post(f"/api/v1/orders/{numbers[1]['id']}/complete", json={"note": "修好了"}, headers=worker)
    clock.advance(hours=1)
    client.post(f"/api/v1/orders/{numbers[0]['id']}/complete", json={"note": "修好了"}, headers=worker)
    listed = client.get("/api/v1/orders", params={"queue": "callback"}, headers=operator).json()["items"]
    assert [o["number"] for o in listed] == [numbers[1]["number"], numbers[0]["number"]]
    assert all(o["callback_due_at"] for o in listed)
    # Rated from the list: it leaves the queue.
    client.post(f"/api/v1/orders/{numbers[1]['id']}/rate", json={"stars": 5}, headers=operator)
    assert queue(client, operator, "callback") == [numbers[0]["number"]]


def test_order_payloads_name_the_resident_for_the_call_centre_only(
    client, world, operator, login, session_factory
) -> None:
    with session_factory() as s:
        r = Resident(name="王桂兰", address="阳光花园3幢", tags=["独居老人", "听力差"])
        r.phones.append(ResidentPhone(e164="+8657188881234", is_primary=True))
        s.add(r)
        s.commit()
    pid = add_provider(session_factory, world, km=0.5)
    order = new_order(client, operator, caller_phone="057188881234")
    detail = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()
    assert detail["resident"]["name"] == "王桂兰" and detail["resident"]["tags"] == ["独居老人", "听力差"]
    # Masked, the landline keeping its 0 and area code; the full number is a recorded reveal.
    assert (detail["caller_phone"], detail["caller_phone_national"]) == (None, "0571****1234")
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": pid}, headers=operator)
    worker_view = client.get(
        f"/api/v1/orders/{order['id']}", headers=login(Role.WORKER, provider_id=pid)
    ).json()
    assert worker_view["resident"] is None


def test_a_short_number_search_lists_todays_order_first(client, world, operator, clock) -> None:
    earlier = new_order(client, operator)  # 20251112-0001
    clock.advance(days=1)
    today = new_order(client, operator)  # 20251113-0001
    clock.advance(days=1)
    new_order(client, operator)  # 20251114-0001 is newest, but not today's … until it is
    clock.set(clock.now() - timedelta(days=1))  # it is the 13th again: its 0001 comes first
    found = client.get("/api/v1/orders", params={"number": "0001"}, headers=operator).json()["items"]
    assert [o["number"] for o in found][0] == today["number"]
    assert {o["number"] for o in found} >= {earlier["number"], today["number"]}


def test_every_committed_change_reaches_the_screens_as_an_order_event(
    client, app, world, operator, login, session_factory
) -> None:
    hub = app.state.ctx.live().hub
    start = hub.publish([], "mark", {}).id  # only what happens from here on
    first = add_provider(session_factory, world, km=0.5)
    second = add_provider(session_factory, world, km=1.0)
    order = new_order(client, operator)
    client.post(f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": first}, headers=operator)
    supervisor = login(Role.SUPERVISOR)
    client.post(
        f"/api/v1/orders/{order['id']}/withdraw",
        json={"reason": "改派", "provider_id": second},
        headers=supervisor,
    )
    refused = client.post(
        f"/api/v1/orders/{order['id']}/accept", headers=login(Role.WORKER, provider_id=first)
    )
    assert refused.status_code == 404  # not theirs any more; a refusal changes nothing: no event

    def seen(
        user_id: int, role: str, providers: frozenset[int] = frozenset()
    ) -> list[tuple[str, str, int | None]]:
        queue = hub.subscribe(user_id, role, last_event_id=start, providers=providers).queue
        got = [queue.get_nowait() for _ in range(queue.qsize())]
        return [
            (m.data["action"], m.data["status"], m.data["provider_id"]) for m in got if m.event == "order"
        ]

    everything = [("create", "received", None), ("offer", "offered", first), ("offer", "offered", second)]
    assert seen(1, "operator") == everything  # withdraw and re-offer in one request: the last state
    assert seen(2, "supervisor") == everything
    # The first provider hears it went elsewhere; the second that it came to them; others nothing.
    assert seen(3, "worker", frozenset({first})) == everything[1:]
    assert seen(4, "worker", frozenset({second})) == everything[2:]
    assert seen(5, "worker", frozenset({999})) == []
