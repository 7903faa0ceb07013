"""Changes a transaction made that the live screens should hear of, once it has committed.

Domain code notes a change in the session it writes with (``note``); the server's live side
(``dispatch.live.publish``) publishes the notes after that session's transaction commits and drops
them on a rollback, so a screen never hears of a change that did not happen. Notes are merged per
thing changed: the last state wins, the audiences add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

KEY = "sanshe_changes"
CALL_CENTRE = frozenset({"role:admin", "role:supervisor", "role:operator"})


@dataclass
class Change:
    event: str  # the stream's event name: "order", "callback"
    data: dict[str, Any]
    targets: set[str] = field(default_factory=set)  # hub addresses: role:…, user:…, provider:…


def note(session: Session, event: str, key: object, data: dict[str, Any], targets: Iterable[str]) -> None:
    changes: dict[tuple[str, object], Change] = session.info.setdefault(KEY, {})
    change = changes.setdefault((event, key), Change(event, {}))
    change.data = data
    change.targets |= set(targets)


def take(session: Session) -> list[Change]:
    """The notes of the transaction just ended, once; the next transaction starts empty."""
    return list(session.info.pop(KEY, {}).values())
