"""One demo order while its life is simulated: its columns, its child rows, and its timeline.

Every status a draft takes comes from the lifecycle table (``orders/state.next_status``), as in
the product's own transition; a step the table does not allow raises while seeding. Events that
change no status are recorded apart and may not borrow a lifecycle action's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatch.orders.state import Action, next_status
from dispatch.seed.world import ItemFacts, ResidentFacts
from dispatch.timelimits.deadlines import Limits
from models import OrderStatus

Actor = tuple[str, int | None]  # the event's actor label, and the user id when a user acted
SYSTEM: Actor = ("system", None)
LIFECYCLE_ACTIONS = frozenset(a.value for a in Action)


@dataclass
class Draft:
    """One order being simulated: its columns, and its child rows without ids yet."""

    created_at: datetime
    number: str
    item: ItemFacts
    resident: ResidentFacts
    sla: str  # the class it is handled as (urgent, priority, normal, consult): how fast people act
    limits: Limits  # the product's time limits for its item and priority
    creator: Actor
    until: datetime  # the history's ``now``: what would happen later does not happen
    status: OrderStatus = OrderStatus.RECEIVED
    cols: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    ratings: list[dict[str, Any]] = field(default_factory=list)
    clock_start: datetime | None = None  # creation, or the last reopening: deadlines run from here

    def create(self, data: dict[str, Any]) -> None:
        # Intake inserts the order as received: its "create" event has no from_status (orders/intake).
        self._event(self.created_at, "create", None, OrderStatus.RECEIVED, self.creator, "", data)
        self.status = OrderStatus.RECEIVED

    def step(
        self,
        at: datetime,
        action: Action,
        *,
        actor: Actor = SYSTEM,
        note: str = "",
        data: dict[str, Any] | None = None,
    ) -> bool:
        """Move the order by ``action``; False, with nothing recorded, when ``at`` is after ``until``
        (the caller's cue to stop the life there)."""
        to = next_status(action, self.status)  # before the clock: a step that never happens is legal too
        if at > self.until:
            return False
        self._event(at, action.value, self.status, to, actor, note, data)
        self.status = to
        return True

    def record(
        self,
        at: datetime,
        action: str,
        *,
        actor: Actor = SYSTEM,
        note: str = "",
        data: dict[str, Any] | None = None,
    ) -> bool:
        """Record an event that changes no status (a callback nobody answered); False after ``until``."""
        if action in LIFECYCLE_ACTIONS:
            raise ValueError(f"{action!r} changes the status: record it with step()")
        if at > self.until:
            return False
        self._event(at, action, None, None, actor, note, data)
        return True

    def _event(
        self,
        at: datetime,
        action: str,
        from_status: OrderStatus | None,
        to_status: OrderStatus | None,
        actor: Actor,
        note: str,
        data: dict[str, Any] | None,
    ) -> None:
        self.events.append(
            {
                "at": at,
                "action": action,
                "from_status": from_status,
                "to_status": to_status,
                "actor": actor[0],
                "actor_id": actor[1],
                "note": note,
                "data": data or {},
            }
        )
        self.cols["updated_at"] = at


def reset_service_columns(o: Draft) -> None:
    """The service-specific columns, blank (at creation and again on reopening)."""
    o.cols.update(
        provider_id=None, worker_id=None, accepted_at=None, arrived_at=None, checkin_lat=None,
        checkin_lon=None, checkin_distance_m=None, checkin_far=False, checkout_at=None, checkout_lat=None,
        checkout_lon=None, checkout_distance_m=None, checkout_far=False, completed_at=None,
        completion_note="", closed_at=None, cancelled_at=None, rating_stars=None, callback_due_at=None,
    )  # fmt: skip
