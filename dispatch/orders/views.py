"""Orders as a user sees them: the contract's fields plus what the screens need, loaded for a
whole page at once (codes, duplicate numbers, the resident for the call centre, the actions the
user may take, whether a deadline lies past the official calendar). Personal data of the resident
goes to the call centre only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.orders import policy, repository
from dispatch.residents.phones import national
from dispatch.timelimits.coverage import Coverage
from models import OPEN_STATUSES, Category, Item, Order, Resident, Role, User

CALL_CENTRE = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)


class OrderViews:
    """``load(orders)`` once per page, then ``fields(order)`` per order."""

    def __init__(
        self,
        session: Session,
        user: User,
        *,
        region: str,
        coverage: Coverage | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.session = session
        self.user = user
        self.region = region
        # How far the working-day calendar is official (timelimits.coverage), read once per page.
        self.coverage = coverage
        self.tz = tz or ZoneInfo("UTC")
        self.scope = repository.provider_scope(session, user)
        self.items: dict[int, str] = {}
        self.categories: dict[int, str] = {}
        self.duplicates: dict[int, str] = {}
        self.residents: dict[int, dict[str, Any]] = {}

    def load(self, orders: Sequence[Order]) -> OrderViews:
        s = self.session

        def lookup(model: Any, column: Any, ids: set[int]) -> dict[int, Any]:
            ids.discard(None)  # type: ignore[arg-type]
            return dict(s.execute(select(model.id, column).where(model.id.in_(ids))).all()) if ids else {}

        self.items |= lookup(Item, Item.code, {o.item_id for o in orders})
        self.categories |= lookup(Category, Category.code, {o.category_id for o in orders})
        self.duplicates |= lookup(Order, Order.number, {o.possible_duplicate_of_id for o in orders})
        resident_ids = {o.resident_id for o in orders if o.resident_id}
        if self.user.role in CALL_CENTRE and resident_ids:
            rows = s.execute(
                select(Resident.id, Resident.name, Resident.tags).where(Resident.id.in_(resident_ids))
            )
            self.residents |= {
                rid: {"id": rid, "name": name, "tags": list(tags or [])} for rid, name, tags in rows
            }
        return self

    def fields(self, o: Order) -> dict[str, Any]:
        return {
            "id": o.id,
            "number": o.number,
            "status": o.status.value,
            "channel": o.channel.value,
            "priority": o.priority.value,
            "item_code": self.items[o.item_id],
            "category_code": self.categories[o.category_id],
            "description": o.description,
            "caller_phone": o.caller_phone,
            "caller_phone_national": national(o.caller_phone, self.region) if o.caller_phone else "",
            "resident_id": o.resident_id,
            "resident": self.residents.get(o.resident_id) if o.resident_id else None,
            "address": o.address,
            "lat": o.lat,
            "lon": o.lon,
            "community_id": o.community_id,
            "grid_id": o.grid_id,
            "provider_id": o.provider_id,
            "worker_id": o.worker_id,
            "sign_by": o.sign_by,
            "complete_by": o.complete_by,
            "callback_due_at": o.callback_due_at,
            "supervision": o.supervision.value,
            "overdue": o.overdue,
            "reopen_count": o.reopen_count,
            "return_count": o.return_count,
            "supervisor_queue_reason": o.supervisor_queue_reason,
            "rating_stars": o.rating_stars,
            "possible_duplicate_of": self.duplicates.get(o.possible_duplicate_of_id or 0),
            "created_at": o.created_at,
            "completed_at": o.completed_at,
            "closed_at": o.closed_at,
            "allowed_actions": policy.allowed_actions(o, self.user, self.scope),
            "deadline_uncovered": self.deadline_uncovered(o),
        }

    def deadline_uncovered(self, o: Order) -> bool:
        """An open order whose complete-by (or sign-for) deadline falls past the official calendar:
        it was counted Monday–Friday there."""
        c = self.coverage
        return (
            c is not None
            and o.status in OPEN_STATUSES
            and (c.beyond(o.complete_by, self.tz) or c.beyond(o.sign_by, self.tz))
        )
