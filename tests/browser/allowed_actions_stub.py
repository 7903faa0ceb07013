"""A branch-local stand-in for the server's ``allowed_actions``, until the server sends it.

The order payloads are gaining ``allowed_actions`` (the verbs this user may POST now). Until a
server has it, the browser tests add it to the answers the console receives, worked out here from
the rules the console used to copy; a server that sends the field is never overridden. Delete this
module once the server has the field.
"""

from __future__ import annotations

from typing import Any

OPEN = {"received", "offered", "accepted", "in_service"}
STAFF = {"admin", "supervisor", "operator"}
SUPERVISORS = {"admin", "supervisor"}
RESPONDERS = {"admin", "supervisor", "org_admin", "worker"}


def stub_allowed_actions(order: dict[str, Any], role: str) -> list[str]:
    status = order["status"]
    rules = [
        (
            "dispatch",
            role in STAFF
            and status == "received"
            and not (role == "operator" and order.get("supervisor_queue_reason")),
        ),
        ("accept", role in RESPONDERS and status == "offered"),
        ("decline", role in RESPONDERS and status == "offered"),
        ("check-in", role in RESPONDERS and status == "accepted"),
        (
            "complete",
            (role in RESPONDERS and status in ("accepted", "in_service"))
            or (role in STAFF and status == "received"),
        ),
        (
            "rate",
            role in STAFF
            and (status == "completed" or (status == "closed" and not order.get("rating_stars"))),
        ),
        ("urge", role in SUPERVISORS and status in ("offered", "accepted", "in_service")),
        ("extend", role in SUPERVISORS and status in OPEN),
        ("reopen", role in SUPERVISORS and status in ("completed", "closed")),
        ("cancel", role in STAFF and status in OPEN),
    ]
    return [verb for verb, allowed in rules if allowed]


def with_allowed_actions(body: Any, role: str) -> Any:
    """An order or a list of orders, each given ``allowed_actions`` if the server left it out."""
    orders = body.get("items", []) if isinstance(body, dict) and "items" in body else [body]
    for order in orders:
        if isinstance(order, dict) and "status" in order and "allowed_actions" not in order:
            order["allowed_actions"] = stub_allowed_actions(order, role)
    return body
