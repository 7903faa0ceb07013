"""Resident lookup (by phone, by name/address) and profile with history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session, selectinload

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest, NotFound
from dispatch.residents import repository, service
from dispatch.residents.phones import InvalidPhone, normalise_phone
from dispatch.residents.schemas import (
    CallBrief,
    OrderBrief,
    PhoneOut,
    RatingBrief,
    ResidentDetail,
    ResidentList,
    ResidentOut,
    ResidentPatch,
)
from models import OPEN_STATUSES, Resident, Role

router = APIRouter(
    prefix="/api/v1/residents",
    tags=["residents"],
    # Personal data: call-centre staff only, never providers.
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))],
)


def resident_out(r: Resident, score: float | None = None) -> ResidentOut:
    return ResidentOut(
        id=r.id,
        name=r.name,
        phones=[PhoneOut(e164=p.e164, kind=p.kind.value, is_primary=p.is_primary) for p in r.phones],
        address=r.address,
        lat=r.lat,
        lon=r.lon,
        community_id=r.community_id,
        grid_id=r.grid_id,
        tags=list(r.tags or []),
        consent=r.consent,
        note=r.note,
        score=score,
    )


@router.get("", response_model=ResidentList)
def find_residents(
    db: Db,
    ctx: Ctx,
    phone: Annotated[str | None, Query(max_length=32, description="exact number, any common format")] = None,
    q: Annotated[str | None, Query(max_length=100, description="name or address, typos tolerated")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ResidentList:
    if bool(phone) == bool(q):
        raise BadRequest("give exactly one of phone or q", code="bad_query")
    if phone:
        try:
            e164 = normalise_phone(phone, ctx.settings.locale.default_region).e164
        except InvalidPhone as exc:
            raise BadRequest(f"phone: {exc}", code="invalid_phone") from None
        found = repository.by_phone(db, e164)
        items = [resident_out(found)] if found else []
        return ResidentList(items=items, total=len(items))
    hits = service.search(db, q or "", limit=limit)
    return ResidentList(items=[resident_out(h.resident, round(h.score, 1)) for h in hits], total=len(hits))


def _load(db: Db, resident_id: int) -> Resident:
    r = db.get(Resident, resident_id, options=[selectinload(Resident.phones)])
    if r is None:
        raise NotFound(f"no resident {resident_id}")
    return r


@router.get("/{resident_id}", response_model=ResidentDetail)
def get_resident(resident_id: int, db: Db) -> ResidentDetail:
    return resident_detail(db, _load(db, resident_id))


def resident_detail(db: Session, r: Resident) -> ResidentDetail:
    """The profile with open orders, recent orders, calls and ratings (also the screen pop's)."""
    h = service.history(db, r)
    orders = [
        OrderBrief(
            id=o.id,
            number=o.number,
            status=o.status.value,
            item_code=h.item_codes.get(o.item_id, ""),
            description=o.description,
            created_at=o.created_at,
            rating_stars=o.rating_stars,
        )
        for o in h.orders
    ]
    open_ids = {o.id for o in h.orders if o.status in OPEN_STATUSES}
    return ResidentDetail(
        **resident_out(r).model_dump(),
        open_orders=[o for o in orders if o.id in open_ids],
        orders=orders,
        calls=[
            CallBrief(
                id=c.id,
                direction=c.direction.value,
                caller=c.caller,
                started_at=c.started_at,
                disposition=c.disposition.value if c.disposition else None,
                talk_seconds=c.talk_seconds,
            )
            for c in h.calls
        ],
        ratings=[
            RatingBrief(
                order_id=x.order_id,
                outcome=x.outcome.value,
                stars=x.stars,
                comment=x.comment,
                created_at=x.created_at,
            )
            for x in h.ratings
        ],
    )


@router.patch("/{resident_id}", response_model=ResidentOut)
def update_resident(resident_id: int, patch: ResidentPatch, db: Db) -> ResidentOut:
    r = _load(db, resident_id)
    for key, value in patch.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(r, key, value)
    db.flush()
    return resident_out(r)
