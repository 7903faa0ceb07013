"""Who may do what to an order: the role rules beside the state table, and ``allowed_actions``.

The console renders its buttons from ``allowed_actions``; these tests pin the rules down as a
table and check over HTTP that the server refuses exactly what the list leaves out.
"""

from __future__ import annotations

import pytest

from dispatch.orders.policy import ROLES, STATUSES, Verb, allowed_actions
from models import Order, OrderStatus, Role, User
from tests.factories import add_provider, new_order

pytestmark = pytest.mark.manual_dispatch
S = OrderStatus


def order(status: OrderStatus, **kw: object) -> Order:
    return Order(**{"supervisor_queue_reason": None, "rating_stars": None, **kw}, status=status, number="1")


def user(role: Role, provider_id: int | None = None) -> User:
    return User(role=role, provider_id=provider_id, username=role.value)


OPERATOR, SUPERVISOR = user(Role.OPERATOR), user(Role.SUPERVISOR)
RESPOND = ["accept", "decline"]
WORKER, OTHER_WORKER = user(Role.WORKER, 5), user(Role.WORKER, 6)
ORG_ADMIN = user(Role.ORG_ADMIN, 1)  # organisation 1, whose worker is 5


@pytest.mark.parametrize(
    ("the_order", "who", "scope", "expected"),
    [
        (order(S.RECEIVED), OPERATOR, None, ["dispatch", "complete", "cancel", "notes"]),
        (
            order(S.RECEIVED, supervisor_queue_reason="已退单 3 次"),
            OPERATOR,
            None,
            ["complete", "cancel", "notes"],
        ),
        (order(S.RECEIVED), SUPERVISOR, None, ["dispatch", "complete", "extend", "cancel", "notes"]),
        (order(S.RECEIVED), WORKER, [5], []),
        (order(S.OFFERED, provider_id=5, worker_id=5), WORKER, [5], ["accept", "decline"]),
        (order(S.OFFERED, provider_id=5, worker_id=5), OTHER_WORKER, [6], []),
        (order(S.OFFERED, provider_id=5, worker_id=5), ORG_ADMIN, [1, 5], ["accept", "decline"]),
        (order(S.OFFERED, provider_id=5), OPERATOR, None, ["cancel", "notes"]),
        (
            order(S.OFFERED, provider_id=5),
            SUPERVISOR,
            None,
            [*RESPOND, "urge", "extend", "withdraw", "cancel", "notes"],
        ),
        (order(S.ACCEPTED, provider_id=5, worker_id=5), WORKER, [5], ["check-in", "complete"]),
        (order(S.ACCEPTED, provider_id=5, worker_id=5), OPERATOR, None, ["cancel", "notes"]),
        (order(S.IN_SERVICE, provider_id=5, worker_id=5), WORKER, [5], ["complete"]),
        (order(S.IN_SERVICE, provider_id=5, worker_id=5), OTHER_WORKER, [6], []),
        (order(S.COMPLETED, provider_id=5), OPERATOR, None, ["rate", "notes"]),
        (order(S.COMPLETED, provider_id=5), SUPERVISOR, None, ["rate", "reopen", "notes"]),
        (order(S.COMPLETED, provider_id=5), WORKER, [5], []),
        (order(S.CLOSED), SUPERVISOR, None, ["rate", "reopen", "notes"]),  # closed without a rating
        (order(S.CLOSED, rating_stars=2), SUPERVISOR, None, ["reopen", "notes"]),
        (order(S.CANCELLED), SUPERVISOR, None, ["notes"]),
    ],
)
def test_the_rules_as_a_table(
    the_order: Order, who: User, scope: list[int] | None, expected: list[str]
) -> None:
    assert allowed_actions(the_order, who, scope) == expected


def test_every_verb_has_roles_and_statuses() -> None:
    assert set(ROLES) == set(STATUSES) == set(Verb)
    assert all(ROLES[v] and STATUSES[v] for v in Verb)
    # The statuses of the verbs that change one come from the state table.
    assert STATUSES[Verb.COMPLETE] == {S.RECEIVED, S.ACCEPTED, S.IN_SERVICE}
    assert STATUSES[Verb.CANCEL] == {S.RECEIVED, S.OFFERED, S.ACCEPTED, S.IN_SERVICE}


BODIES = {
    "dispatch": {},
    "accept": None,
    "decline": {"reason": "人手不足"},
    "check-in": {"lat": 30.2906, "lon": 120.1206},
    "complete": {"note": "已处理"},
    "rate": {"stars": 5},
    "urge": {},
    "extend": {"working_days": 1, "reason": "等配件"},
    "reopen": {"reason": "居民不满意"},
    "withdraw": {"reason": "改派"},
    "cancel": {"reason": "居民已自行解决"},
    "notes": {"text": "内部备注"},
}


def post(client, order_id: int, verb: str, headers: dict[str, str]):
    return client.post(f"/api/v1/orders/{order_id}/{verb}", json=BODIES[verb], headers=headers)


def test_the_server_refuses_what_the_list_leaves_out(client, world, operator, login, session_factory) -> None:
    """For an offered order: each role's list, and every verb left out is refused (403 for a
    role or relation that may not, 409 for a status that does not allow it) and changes nothing."""
    pid = add_provider(session_factory, world, km=0.5)
    other = add_provider(session_factory, world, km=1.0)
    o = new_order(client, operator)
    assert client.post(
        f"/api/v1/orders/{o['id']}/dispatch", json={"provider_id": pid}, headers=operator
    ).is_success
    people = {
        "operator": operator,
        "supervisor": login(Role.SUPERVISOR),
        "worker": login(Role.WORKER, provider_id=pid),
        "other worker": login(Role.WORKER, provider_id=other),
    }
    expected = {
        "operator": ["cancel", "notes"],
        "supervisor": ["accept", "decline", "urge", "extend", "withdraw", "cancel", "notes"],
        "worker": ["accept", "decline"],
        "other worker": None,  # not even visible to them
    }
    for name, headers in people.items():
        r = client.get(f"/api/v1/orders/{o['id']}", headers=headers)
        if expected[name] is None:
            assert r.status_code == 404
            continue
        assert r.json()["allowed_actions"] == expected[name], name
        listed = client.get("/api/v1/orders", params={"number": o["number"]}, headers=headers).json()
        assert listed["items"][0]["allowed_actions"] == expected[name], name
        for verb in set(BODIES) - set(expected[name]):
            refused = post(client, o["id"], verb, headers)
            assert refused.status_code in (403, 404, 409), (name, verb, refused.text)
    detail = client.get(f"/api/v1/orders/{o['id']}", headers=operator).json()
    assert detail["status"] == "offered" and detail["timeline"][-1]["action"] == "offer"  # nothing changed
    # And what the list offers works: the worker signs for it; the list moves on.
    assert post(client, o["id"], "accept", people["worker"]).status_code == 200
    after = client.get(f"/api/v1/orders/{o['id']}", headers=people["worker"]).json()
    assert after["allowed_actions"] == ["check-in", "complete"]
