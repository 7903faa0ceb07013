"""A resident as staff see them: the profile, with open and recent orders, calls and ratings.

The same profile answers ``GET /api/v1/residents/{id}`` and fills the operator's screen pop. Phone
numbers are masked (``residents.privacy``) except ``shown``: the number calling, in a screen pop.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dispatch.residents import service
from dispatch.residents.phones import national
from dispatch.residents.privacy import mask_phone
from dispatch.residents.schemas import (
    CallBrief,
    OrderBrief,
    PhoneOut,
    RatingBrief,
    ResidentDetail,
    ResidentOut,
)
from models import OPEN_STATUSES, Resident


def phone_out(e164: str, *, kind: str, is_primary: bool, region: str, shown: bool = False) -> PhoneOut:
    return PhoneOut(
        e164=e164 if shown else None,
        national=national(e164, region) if shown else mask_phone(e164, region),
        kind=kind,
        is_primary=is_primary,
    )


def resident_out(
    r: Resident, score: float | None = None, *, region: str = "CN", shown: str | None = None
) -> ResidentOut:
    return ResidentOut(
        id=r.id,
        name=r.name,
        phones=[
            phone_out(
                p.e164, kind=p.kind.value, is_primary=p.is_primary, region=region, shown=p.e164 == shown
            )
            for p in r.phones
        ],
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


def resident_detail(
    db: Session, r: Resident, *, region: str = "CN", shown: str | None = None
) -> ResidentDetail:
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
        **resident_out(r, region=region, shown=shown).model_dump(),
        open_orders=[o for o in orders if o.id in open_ids],
        orders=orders,
        calls=[
            CallBrief(
                id=c.id,
                direction=c.direction.value,
                caller=mask_phone(c.caller, region),
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
