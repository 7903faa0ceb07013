"""Orders as a user sees them: the contract's fields plus what the screens need, loaded for a
whole page at once (codes, duplicate numbers, the resident, the actions the user may take,
whether a deadline lies past the official calendar). What each user sees of the resident — the
phone, the name, the tags — is the personal-data policy's answer (``residents.privacy``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.orders import policy, repository
from dispatch.residents.phones import national
from dispatch.residents.privacy import (
    Exposure,
    PhoneAccess,
    Sight,
    View,
    mask_name,
    mask_phone,
    mask_phones_in_text,
    order_exposure,
    visible_tags,
)
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
        view: View = View.LIST,
        coverage: Coverage | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.session = session
        self.user = user
        self.region = region
        self.view = view
        # How far the working-day calendar is official (timelimits.coverage), read once per page.
        self.coverage = coverage
        self.tz = tz or ZoneInfo("UTC")
        self.scope = repository.provider_scope(session, user)
        self.items: dict[int, str] = {}
        self.categories: dict[int, str] = {}
        self.duplicates: dict[int, str] = {}
        self.residents: dict[int, tuple[str, list[str]]] = {}

    def load(self, orders: Sequence[Order]) -> OrderViews:
        s = self.session

        def lookup(model: Any, column: Any, ids: set[int]) -> dict[int, Any]:
            ids.discard(None)  # type: ignore[arg-type]
            return dict(s.execute(select(model.id, column).where(model.id.in_(ids))).all()) if ids else {}

        self.items |= lookup(Item, Item.code, {o.item_id for o in orders})
        self.categories |= lookup(Category, Category.code, {o.category_id for o in orders})
        self.duplicates |= lookup(Order, Order.number, {o.possible_duplicate_of_id for o in orders})
        resident_ids = {
            o.resident_id for o in orders if o.resident_id and self.exposure(o).name != Sight.NONE
        }
        if resident_ids - self.residents.keys():
            rows = s.execute(
                select(Resident.id, Resident.name, Resident.tags).where(Resident.id.in_(resident_ids))
            )
            self.residents |= {rid: (name, list(tags or [])) for rid, name, tags in rows}
        return self

    def exposure(self, o: Order) -> Exposure:
        return order_exposure(self.user, o, self.scope, self.view)

    def resident(self, o: Order, seen: Exposure) -> dict[str, Any] | None:
        found = self.residents.get(o.resident_id) if o.resident_id and seen.name != Sight.NONE else None
        if found is None:
            return None
        name, tags = found
        return {
            "id": o.resident_id if seen.resident_id else None,
            "name": name if seen.name == Sight.FULL else mask_name(name),
            "tags": visible_tags(tags, seen.tags),
        }

    def phone(self, o: Order, seen: Exposure) -> dict[str, Any]:
        if not o.caller_phone:
            return {
                "caller_phone": None,
                "caller_phone_national": "",
                "caller_phone_access": PhoneAccess.NONE,
            }
        if seen.phone == PhoneAccess.FULL:
            return {
                "caller_phone": o.caller_phone,
                "caller_phone_national": national(o.caller_phone, self.region),
                "caller_phone_access": PhoneAccess.FULL,
            }
        return {
            "caller_phone": None,
            "caller_phone_national": mask_phone(o.caller_phone, self.region),
            "caller_phone_access": seen.phone,
        }

    def fields(self, o: Order) -> dict[str, Any]:
        seen = self.exposure(o)
        # Lists show a description with the numbers in it masked; the detail shows it as written.
        described = (
            o.description if self.view != View.LIST else mask_phones_in_text(o.description, self.region)
        )
        return {
            "id": o.id,
            "number": o.number,
            "status": o.status.value,
            "channel": o.channel.value,
            "priority": o.priority.value,
            "item_code": self.items[o.item_id],
            "category_code": self.categories[o.category_id],
            "description": described,
            **self.phone(o, seen),
            "resident_id": o.resident_id if seen.resident_id else None,
            "resident": self.resident(o, seen),
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
            # Another open order of the same resident: the call centre's to know.
            "possible_duplicate_of": (
                self.duplicates.get(o.possible_duplicate_of_id or 0) if seen.resident_id else None
            ),
            "preferred_from": o.preferred_from,
            "preferred_to": o.preferred_to,
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
