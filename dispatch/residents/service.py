"""Residents: create-or-match on intake, fuzzy lookup, history.

One phone number belongs to one resident, so a call from a known number always lands on the same
person. A different name given for a known number is reported (``name_mismatch``), never merged or
overwritten silently: it may be a relative calling for them, or a number that changed hands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz
from sqlalchemy import desc, insert, or_, select
from sqlalchemy.orm import Session

from dispatch.db import insert_one
from dispatch.residents import repository
from dispatch.residents.phones import Phone
from models import Call, Item, Order, Rating, Resident, ResidentPhone

UNNAMED = "未留名"
_INSERT_PHONE = insert(ResidentPhone.__table__)
SEARCH_CUTOFF = 60.0


@dataclass
class ResidentMatch:
    resident: Resident
    created: bool
    name_mismatch: bool = False


@dataclass
class LocationFacts:
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    community_id: int | None = None
    grid_id: int | None = None


def _clean_name(name: str | None) -> str:
    return "".join((name or "").split())


def match_or_create(
    session: Session, *, phone: Phone, name: str | None, where: LocationFacts
) -> ResidentMatch:
    resident = repository.by_phone(session, phone.e164, with_phones=False)
    given = _clean_name(name)
    if resident is not None:
        mismatch = bool(given) and resident.name not in (UNNAMED, "") and given != resident.name
        if resident.name in (UNNAMED, "") and given:
            resident.name = given
        # Fill what the record lacks; never overwrite what a person already confirmed.
        if not resident.address and where.address:
            resident.address = where.address
        if resident.lat is None and where.lat is not None:
            resident.lat, resident.lon = where.lat, where.lon
            resident.community_id, resident.grid_id = where.community_id, where.grid_id
        return ResidentMatch(resident, created=False, name_mismatch=mismatch)
    values = {
        "name": given or UNNAMED,
        "address": where.address,
        "lat": where.lat,
        "lon": where.lon,
        "community_id": where.community_id,
        "grid_id": where.grid_id,
        "tags": [],
    }
    # Plain INSERTs: the unit of work costs several times more for these two rows.
    resident = insert_one(session, Resident, values)
    session.execute(
        _INSERT_PHONE,
        {"resident_id": resident.id, "e164": phone.e164, "kind": phone.kind, "is_primary": True},
    )
    return ResidentMatch(resident, created=True)


@dataclass
class ScoredResident:
    resident: Resident
    score: float


def _query_tokens(text: str) -> list[str]:
    """The whole query and its two-character pieces: Chinese names and places have no spaces."""
    compact = "".join(text.split())
    tokens = {compact}
    tokens.update(compact[i : i + 2] for i in range(len(compact) - 1))
    tokens.update(text.split())
    return [t for t in tokens if t][:24]


def search(session: Session, text: str, *, limit: int = 20) -> list[ScoredResident]:
    """Residents whose name or address is like the text, best first (typos tolerated)."""
    query = "".join(text.split())
    if not query:
        return []
    scored = []
    for r in repository.candidates_for_text(session, _query_tokens(text)):
        # ratio for the name (short, typed in full), partial_ratio for the address (the query is a part).
        name_score = fuzz.ratio(query, r.name)
        address_score = fuzz.partial_ratio(query, r.address) if len(query) >= 2 else 0.0
        best = max(name_score, address_score)
        if best >= SEARCH_CUTOFF:
            scored.append(ScoredResident(r, best))
    scored.sort(key=lambda s: (-s.score, s.resident.id))
    return scored[:limit]


@dataclass
class History:
    orders: list[Order] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    ratings: list[Rating] = field(default_factory=list)
    item_codes: dict[int, str] = field(default_factory=dict)


def history(session: Session, resident: Resident, *, limit: int = 20) -> History:
    numbers = [p.e164 for p in resident.phones]
    orders = list(
        session.scalars(
            select(Order)
            .where(Order.resident_id == resident.id)
            .order_by(desc(Order.created_at))
            .limit(limit)
        )
    )
    call_filter = Call.resident_id == resident.id
    if numbers:
        call_filter = or_(call_filter, Call.caller.in_(numbers))
    calls = list(
        session.scalars(select(Call).where(call_filter).order_by(desc(Call.started_at)).limit(limit))
    )
    ratings = list(
        session.scalars(
            select(Rating)
            .join(Order, Order.id == Rating.order_id)
            .where(Order.resident_id == resident.id)
            .order_by(desc(Rating.created_at))
            .limit(limit)
        )
    )
    item_ids = {o.item_id for o in orders}
    codes = (
        dict(session.execute(select(Item.id, Item.code).where(Item.id.in_(item_ids))).all())
        if item_ids
        else {}
    )
    return History(orders=orders, calls=calls, ratings=ratings, item_codes=codes)
