"""Who may take which action on an order: the role rules beside the state table.

Each action verb (the ``POST /api/v1/orders/{id}/<verb>`` endpoints) has the roles that may use it
and, for providers, a relation to the order: a worker answers offers made to them and acts on
orders they hold; an organisation admin does so for the organisation and its workers; the call
centre completes directly only what was never dispatched. :func:`authorize` enforces this for the
endpoints; :func:`allowed_actions` lists what a user may do with an order now (role rules, the
state table and the statuses of the actions that change none), so the console shows exactly the
buttons the server will accept and keeps no copy of these rules.

``scope`` is :func:`dispatch.orders.repository.provider_scope`: the provider ids a user acts for
(None for the call centre), computed once per request.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

from dispatch.errors import Forbidden, role_refused
from dispatch.orders.state import CHECKOUTABLE, EXTENDABLE, TRANSITIONS, URGEABLE, Action
from models import Order, OrderStatus, Role, User


class Verb(enum.StrEnum):
    """The action endpoints, in the order the console shows them."""

    DISPATCH = "dispatch"
    ACCEPT = "accept"
    DECLINE = "decline"
    CHECK_IN = "check-in"
    CHECK_OUT = "check-out"
    COMPLETE = "complete"
    RATE = "rate"
    URGE = "urge"
    EXTEND = "extend"
    REOPEN = "reopen"
    WITHDRAW = "withdraw"
    CANCEL = "cancel"
    NOTE = "notes"


CALL_CENTRE = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR})
SUPERVISORS = frozenset({Role.ADMIN, Role.SUPERVISOR})
RESPONDERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.ORG_ADMIN, Role.WORKER})
EVERYONE = frozenset(Role)

ROLES: dict[Verb, frozenset[Role]] = {
    Verb.DISPATCH: CALL_CENTRE,
    Verb.ACCEPT: RESPONDERS,
    Verb.DECLINE: RESPONDERS,
    Verb.CHECK_IN: EVERYONE,  # narrowed by the relation: the holder, or a supervisor
    Verb.CHECK_OUT: EVERYONE,  # as the check-in
    Verb.COMPLETE: EVERYONE,  # the holder after the service, the call centre directly on the call
    Verb.RATE: CALL_CENTRE,
    Verb.URGE: SUPERVISORS,
    Verb.EXTEND: SUPERVISORS,
    Verb.REOPEN: SUPERVISORS,
    Verb.WITHDRAW: SUPERVISORS,
    Verb.CANCEL: CALL_CENTRE,
    Verb.NOTE: CALL_CENTRE,  # internal notes: the call centre's own, never shown to providers
}


def _sources(*actions: Action) -> frozenset[OrderStatus]:
    return frozenset().union(*(TRANSITIONS[a][0] for a in actions))


# The statuses each verb applies to: from the state table for the verbs that change the status.
STATUSES: dict[Verb, frozenset[OrderStatus]] = {
    Verb.DISPATCH: _sources(Action.OFFER),
    Verb.ACCEPT: _sources(Action.ACCEPT),
    Verb.DECLINE: _sources(Action.DECLINE),
    Verb.CHECK_IN: _sources(Action.CHECK_IN),
    Verb.CHECK_OUT: CHECKOUTABLE,  # and only once, after a check-in
    Verb.COMPLETE: _sources(Action.COMPLETE, Action.COMPLETE_DIRECT),
    Verb.RATE: _sources(Action.CLOSE) | {OrderStatus.CLOSED},  # closed: only while unrated
    Verb.URGE: URGEABLE,
    Verb.EXTEND: EXTENDABLE,
    Verb.REOPEN: _sources(Action.REOPEN),
    Verb.WITHDRAW: _sources(Action.WITHDRAW),
    Verb.CANCEL: _sources(Action.CANCEL),
    Verb.NOTE: frozenset(OrderStatus),
}


def _privileged(user: User) -> bool:
    return user.role in SUPERVISORS


def _acts_for(order_providers: Collection[int | None], scope: Collection[int] | None) -> bool:
    return scope is not None and any(p in scope for p in order_providers if p is not None)


def _check_assigned(order: Order, user: User, scope: Collection[int] | None) -> None:
    """Workers act on orders assigned to them; org admins on their organisation's."""
    if _privileged(user):
        return
    if user.role in (Role.WORKER, Role.ORG_ADMIN) and _acts_for((order.provider_id, order.worker_id), scope):
        return
    raise Forbidden("this order is not assigned to you", message="此工单没有派给您，您不能操作")


def check_role(verb: Verb, user: User) -> None:
    if user.role not in ROLES[verb]:
        raise role_refused(ROLES[verb], user.role)


def authorize(verb: Verb, order: Order, user: User, scope: Collection[int] | None) -> None:
    """Raise Forbidden unless ``user`` may use ``verb`` on ``order``.

    Whether the order's status allows it is the state machine's answer (a 409 from the action
    itself), so a late click gets "it is now accepted", not "you may not".
    """
    check_role(verb, user)
    if verb == Verb.DISPATCH:
        if order.supervisor_queue_reason and user.role == Role.OPERATOR:
            raise Forbidden(
                f"order {order.number} waits for a supervisor ({order.supervisor_queue_reason})",
                message=f"工单{order.number}正等待督办处理（{order.supervisor_queue_reason}），坐席不能派单",
            )
    elif verb in (Verb.ACCEPT, Verb.DECLINE):
        # While an order is offered its provider is the one the offer went to.
        offered = order.status == OrderStatus.OFFERED and order.provider_id is not None
        if offered and not _privileged(user) and not _acts_for((order.provider_id,), scope):
            raise Forbidden(
                "this offer was made to another provider", message="此工单派给了其他服务方，您不能签收或退单"
            )
    elif verb in (Verb.CHECK_IN, Verb.CHECK_OUT):
        _check_assigned(order, user, scope)
    elif verb == Verb.COMPLETE:
        if order.status == OrderStatus.RECEIVED:
            if user.role not in CALL_CENTRE:
                raise Forbidden(
                    "only the call centre completes a request directly on the call",
                    message="只有呼叫中心（坐席、督办、管理员）才能在来电中直接办结",
                )
        elif user.role == Role.OPERATOR:
            raise Forbidden(
                "the provider completes an order it has signed for",
                message="已派出的工单由签收的服务方办结，坐席不能办结",
            )
        else:
            _check_assigned(order, user, scope)


def _applies(verb: Verb, order: Order) -> bool:
    if order.status not in STATUSES[verb]:
        return False
    if verb == Verb.RATE and order.status == OrderStatus.CLOSED:
        return order.rating_stars is None
    if verb == Verb.CHECK_OUT:
        return order.arrived_at is not None and order.checkout_at is None
    return True


def allowed_actions(order: Order, user: User, scope: Collection[int] | None) -> list[str]:
    """The verbs ``user`` may use on ``order`` in its current status, in display order."""
    allowed = []
    for verb in Verb:
        if not _applies(verb, order):
            continue
        try:
            authorize(verb, order, user, scope)
        except Forbidden:
            continue
        allowed.append(verb.value)
    return allowed
