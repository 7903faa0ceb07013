"""The outbox's console notifications (``dispatch.ports.Notifier``) as live events.

The notifier resolves a :class:`~dispatch.ports.Recipient` to the hub's addresses when it sends:
a user and a role address themselves; an organisation's admins are looked up then (the active
``org_admin`` accounts of that provider), so an admin added after the message was written still
gets it. A user who is not connected sees the notification on reconnect only while the bus still
keeps it; notifications are reminders, the orders themselves are the record. The outbox sends from
a worker thread, so the bus stores the message before ``notify`` returns; a message it could not
store is a temporary delivery failure, tried again (notifications are at-least-once).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.db import read_only
from dispatch.live.bus import EventBus
from dispatch.ports import DeliveryError, Recipient
from models import Role, User

log = logging.getLogger(__name__)


def org_admin_ids(session: Session, provider_id: int) -> list[int]:
    return list(
        session.scalars(
            select(User.id)
            .where(User.role == Role.ORG_ADMIN, User.provider_id == provider_id, User.active.is_(True))
            .order_by(User.id)
        )
    )


class HubNotifier:
    def __init__(self, hub: EventBus, sessions: sessionmaker[Session]) -> None:
        self.hub = hub
        self.sessions = sessions

    def targets(self, recipient: Recipient) -> list[str]:
        """The hub addresses (``user:12``, ``role:supervisor``) a recipient stands for."""
        if recipient.kind in ("user", "role"):
            return [str(recipient)]
        with read_only(self.sessions) as session:
            return [f"user:{uid}" for uid in org_admin_ids(session, int(recipient.key))]

    def notify(self, recipient: Recipient, body: str, payload: dict[str, Any]) -> str:
        targets = self.targets(recipient)
        if not targets:
            log.warning("notification for %s reaches nobody: no active account", recipient)
        message = self.hub.publish(targets, "notification", {"body": body, **payload})
        if message is None:  # not stored (logged by the bus): the outbox tries again later
            raise DeliveryError("the live event stream could not take the notification", permanent=False)
        return f"event-{message.id}"
