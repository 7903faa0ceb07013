"""``order`` events on the live stream: every committed change of an order, from any user or job.

Installed on the application's session factory: after each commit the changes the transaction
noted (``dispatch.orders.changes``) are published to the call centre (admins, supervisors,
operators) and to the providers concerned (the worker or organisation that holds, held or was
offered the order); a rollback drops them. Screens then reload what they show of that order.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from dispatch.live.hub import EventHub
from dispatch.orders import changes

log = logging.getLogger(__name__)
CALL_CENTRE = ("role:admin", "role:supervisor", "role:operator")


def targets(change: dict[str, Any]) -> list[str]:
    return [*CALL_CENTRE, *(f"provider:{p}" for p in sorted(change["providers"]))]


def install(sessions: sessionmaker[Session], hub: EventHub) -> None:
    def committed(session: Session) -> None:
        for change in changes.take(session):
            payload = {k: v for k, v in change.items() if k != "providers"}
            try:
                hub.publish(targets(change), "order", payload)
            except Exception:  # a screen missing an update must never fail the commit's caller
                log.exception("could not publish the change of order %s", change.get("number"))

    def rolled_back(session: Session) -> None:
        changes.take(session)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)
