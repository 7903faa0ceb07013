"""Order intake: classify, match the resident, locate, prioritise, set deadlines, flag repeats.

Priority rule: the operator's choice wins; otherwise an order is urgent when its item's SLA class
is urgent, or when the resident is high-risk (独居老人, 失能, 残疾, 特困 …) and the item is a
home visit of the urgent or priority class. An urgent order runs on the urgent time limits unless
its item is a consultation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, desc, insert, select
from sqlalchemy.orm import Session, contains_eager

from dispatch.catalogue.suggest import Suggestion
from dispatch.db import insert_one
from dispatch.errors import InvalidValue
from dispatch.geo.coords import CoordSystem, to_wgs84
from dispatch.geo.geocoding import AddressLocator, Located
from dispatch.orders.numbers import next_number
from dispatch.orders.timeline import record_event
from dispatch.residents.phones import Phone
from dispatch.residents.service import LocationFacts, match_or_create
from dispatch.timelimits.calendar import WorkCalendar
from dispatch.timelimits.deadlines import order_deadlines
from dispatch.timelimits.sla import effective_limits
from models import (
    OPEN_STATUSES,
    Call,
    Category,
    Channel,
    Item,
    Order,
    OrderStatus,
    Priority,
    User,
    call_order,
)

HIGH_RISK_TAGS = frozenset({"独居老人", "高龄老人", "失能", "残疾", "特困"})
DUPLICATE_WINDOW = timedelta(days=7)
CONSENT_LABELS_ZH = {"verbal": "居民口头同意", "signed": "居民签字同意"}


class IntakeError(InvalidValue):
    """Input that cannot become an order; ``field`` names the offending field, ``message`` says
    what is wrong in Chinese."""

    def __init__(self, field_name: str, detail: str, code: str = "invalid_input", *, message: str) -> None:
        super().__init__(f"{field_name}: {detail}", message=message)
        self.field = field_name
        self.code = code


@dataclass
class IntakeRequest:
    # None: a patrol report (a broken stair light), which names no resident.
    phone: Phone | None
    description: str
    channel: Channel
    resident_name: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None
    coord_system: CoordSystem = "wgs84"
    item_code: str | None = None
    priority: Priority | None = None
    call_id: int | None = None
    # False: a request with no place goes nowhere rather than to the resident's registered address
    # (a provider's intake: they give the address, and must not learn the registered one).
    use_registered_address: bool = True
    # A home visit's request: how the resident consented (verbal, signed) and any note.
    consent_method: str | None = None
    consent_note: str | None = None
    # The visit window the resident asked for (the residents' app); stored, shown to whoever visits.
    preferred_from: datetime | None = None
    preferred_to: datetime | None = None
    # Said on the timeline's first entry: where the request came from beyond its channel (the
    # application that filed it over Open311) and what else it asked for (a time for the visit).
    source_note: str | None = None


@dataclass
class IntakeResult:
    order: Order
    item: Item
    category: Category
    resident_created: bool
    name_mismatch: bool
    possible_duplicate_of: Order | None
    location: Located | None
    suggestions: list[Suggestion] = field(default_factory=list)


@dataclass
class IntakeServices:
    """What intake needs beyond the session: long-lived, thread-safe services."""

    suggest: object  # callable(session, text, limit) -> list[Suggestion]
    locator: AddressLocator
    calendar: WorkCalendar
    tz: ZoneInfo


# Statements every intake runs are built once: building one costs more than executing it.
# The item comes with its category and SLA class (one query, and they stay loaded for dispatch).
_ITEM_BY_CODE = (
    select(Item)
    .join(Item.category)
    .join(Item.sla_class)
    .options(contains_eager(Item.category), contains_eager(Item.sla_class))
    .where(Item.code == bindparam("code"))
)
_LATEST_OPEN_ORDER = (
    select(Order)
    .where(
        Order.resident_id == bindparam("resident_id"),
        Order.category_id == bindparam("category_id"),
        Order.status.in_(OPEN_STATUSES),
        Order.created_at >= bindparam("since"),
    )
    .order_by(desc(Order.created_at))
    .limit(1)
)


def _choose_item(session: Session, req: IntakeRequest, suggestions: list[Suggestion]) -> Item:
    code = req.item_code or (suggestions[0].item_code if suggestions else None)
    if code is None:
        raise IntakeError(
            "item_code",
            "the description matches no catalogue item: choose one (item_code)",
            "cannot_classify",
            message="服务事项：未能根据诉求描述自动分类，请手工选择服务事项",
        )
    item = session.scalar(_ITEM_BY_CODE, {"code": code})
    if item is None or not item.active:
        raise IntakeError(
            "item_code",
            f"unknown catalogue item {code!r}",
            "unknown_item",
            message=f"服务事项：目录中没有编码为 {code} 的服务事项（或已停用），请重新选择",
        )
    return item


def _locate(session: Session, req: IntakeRequest, locator: AddressLocator) -> Located | None:
    if req.lat is not None and req.lon is not None:
        try:
            lat, lon = to_wgs84(req.lat, req.lon, req.coord_system)
        except ValueError as exc:
            raise IntakeError("lat", str(exc), message=getattr(exc, "message", "坐标无效")) from None
        community, grid = locator.area_of(session, lat, lon)
        return Located(lat, lon, "given", req.coord_system, req.address or "", community, grid)
    if req.address:
        return locator.locate_address(session, req.address)
    return None


def _priority(req: IntakeRequest, item: Item, tags: list[str]) -> Priority:
    if req.priority is not None:
        return req.priority
    if item.sla_class_code == "urgent":
        return Priority.URGENT
    if item.home_visit and item.sla_class_code == "priority" and HIGH_RISK_TAGS.intersection(tags):
        return Priority.URGENT
    return Priority.NORMAL


def _duplicate_of(session: Session, resident_id: int, category_id: int, now: datetime) -> Order | None:
    params = {"resident_id": resident_id, "category_id": category_id, "since": now - DUPLICATE_WINDOW}
    return session.scalar(_LATEST_OPEN_ORDER, params)


@dataclass(frozen=True)
class Prepared:
    """What intake works out from the request alone, before it writes: the suggestions and where
    the address is. Classifying and geocoding are the CPU-heavy part of intake; done with a
    read-only session they keep out of SQLite's writer lock, which other writers wait for."""

    suggestions: list[Suggestion]
    located: Located | None


def prepare(session: Session, req: IntakeRequest, services: IntakeServices) -> Prepared:
    suggestions = services.suggest(session, req.description, 3)  # type: ignore[operator]
    return Prepared(suggestions, _locate(session, req, services.locator))


def create_order(
    session: Session,
    req: IntakeRequest,
    *,
    actor: User | str,
    now: datetime,
    services: IntakeServices,
    prepared: Prepared | None = None,
) -> IntakeResult:
    call = session.get(Call, req.call_id) if req.call_id is not None else None
    if req.call_id is not None and call is None:
        raise IntakeError(
            "call_id",
            f"no call {req.call_id}",
            "unknown_call",
            message=f"来电记录：未找到编号为 {req.call_id} 的来电",
        )
    prepared = prepared or prepare(session, req, services)
    suggestions = prepared.suggestions
    item = _choose_item(session, req, suggestions)
    category = item.category
    located = prepared.located

    where = LocationFacts(address=req.address or "")
    if located is not None:
        where = LocationFacts(
            req.address or "", located.lat, located.lon, located.community_id, located.grid_id
        )
    match = (
        None
        if req.phone is None
        else match_or_create(session, phone=req.phone, name=req.resident_name, where=where)
    )
    resident = match.resident if match else None
    created = match.created if match else False
    mismatch = match.name_mismatch if match else False
    if (
        resident is not None
        and located is None
        and not req.address
        and req.use_registered_address
        and resident.lat is not None
    ):
        # Nothing said about the place: the service goes to the resident's registered address.
        located = Located(
            resident.lat,
            resident.lon,
            "resident",
            "resident",
            resident.address,
            resident.community_id,
            resident.grid_id,
        )

    priority = _priority(req, item, list(resident.tags or []) if resident else [])
    limits = effective_limits(session, item, priority)
    deadlines = order_deadlines(now, limits, services.calendar)
    # A resident created just now has no earlier orders.
    duplicate = None if resident is None or created else _duplicate_of(session, resident.id, category.id, now)

    # One INSERT … RETURNING instead of a unit-of-work flush: the order is used right away.
    order = insert_one(
        session,
        Order,
        dict(
            number=next_number(session, now, services.tz),
            channel=req.channel,
            status=OrderStatus.RECEIVED,
            priority=priority,
            resident_id=resident.id if resident else None,
            caller_phone=req.phone.e164 if req.phone else "",
            call_id=req.call_id,
            item_id=item.id,
            category_id=category.id,
            description=req.description,
            suggestions=[{"item_code": s.item_code, "score": round(s.score, 4)} for s in suggestions],
            address=req.address or (resident.address if resident and req.use_registered_address else ""),
            lat=located.lat if located else None,
            lon=located.lon if located else None,
            community_id=located.community_id if located else None,
            grid_id=located.grid_id if located else None,
            created_by_id=actor.id if isinstance(actor, User) else None,  # str: a system ("system:ivr")
            possible_duplicate_of_id=duplicate.id if duplicate else None,
            consent_method=req.consent_method,
            consent_note=req.consent_note,
            preferred_from=req.preferred_from,
            preferred_to=req.preferred_to,
            sign_by=deadlines.sign_by,
            complete_by=deadlines.complete_by,
            next_check_at=now,  # the tracking sweep works out the first reminder/escalation time
            created_at=now,
            updated_at=now,
        ),
    )
    if call is not None:
        # Taken on this call: the call lists the order, and an unknown caller is now known.
        session.execute(insert(call_order).values(call_id=call.id, order_id=order.id))
        if req.phone is not None and call.resident_id is None and call.caller == req.phone.e164:
            call.resident_id = resident.id
    notes = ["系统自动分类"] if not req.item_code else []
    if resident is None:
        notes.append("上门巡查上报（未登记居民）")
    if req.consent_method:
        said = CONSENT_LABELS_ZH.get(req.consent_method, req.consent_method)
        notes.append(f"上门登记，{said}" + (f"（{req.consent_note}）" if req.consent_note else ""))
    if req.source_note:
        notes.append(req.source_note)
    note = "；".join(notes)
    record_event(
        session,
        order,
        action="create",
        to_status=OrderStatus.RECEIVED,
        actor=actor,
        at=now,
        note=note,
        data={
            "channel": req.channel.value,
            "item_code": item.code,
            "priority": priority.value,
            "location": located.precision if located else None,
            "resident_created": created,
            "name_mismatch": mismatch,
            "possible_duplicate_of": duplicate.number if duplicate else None,
        }
        | (
            {"consent": {"method": req.consent_method, "note": req.consent_note or ""}}
            if req.consent_method
            else {}
        ),
    )
    return IntakeResult(
        order=order,
        item=item,
        category=category,
        resident_created=created,
        name_mismatch=mismatch,
        possible_duplicate_of=duplicate,
        location=located,
        suggestions=suggestions,
    )
