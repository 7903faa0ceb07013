"""Publishing what a transaction changed (``dispatch.changes``) once it has committed: ``order``
events for every changed order, ``callback`` events for the callback worklist. Installed on the
application's session factory by ``create_app``; a rollback drops the notes."""

from __future__ import annotations

import logging

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from dispatch import changes
from dispatch.live.bus import EventBus

log = logging.getLogger(__name__)


def install(sessions: sessionmaker[Session], hub: EventBus) -> None:
    def committed(session: Session) -> None:
        for change in changes.take(session):
            try:
                hub.publish(sorted(change.targets), change.event, change.data)
            except Exception:  # a screen missing an update must never fail the commit's caller
                log.exception("could not publish a %s change", change.event)

    def rolled_back(session: Session) -> None:
        changes.take(session)

    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)
