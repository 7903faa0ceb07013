"""Resident queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session, selectinload

from models import Resident, ResidentPhone

# Built once (intake runs it on every order); with_phones adds the numbers in a second query.
_BY_PHONE = (
    select(Resident)
    .join(ResidentPhone, ResidentPhone.resident_id == Resident.id)
    .where(ResidentPhone.e164 == bindparam("e164"))
)
_BY_PHONE_WITH_PHONES = _BY_PHONE.options(selectinload(Resident.phones))


def by_phone(session: Session, e164: str, *, with_phones: bool = True) -> Resident | None:
    return session.scalar(_BY_PHONE_WITH_PHONES if with_phones else _BY_PHONE, {"e164": e164})


def candidates_for_text(session: Session, tokens: Sequence[str], limit: int = 500) -> list[Resident]:
    """Residents whose name or address contains any of the tokens (the fuzzy ranking is the caller's)."""
    conditions = []
    for token in tokens:
        conditions.append(Resident.name.contains(token, autoescape=True))
        conditions.append(Resident.address.contains(token, autoescape=True))
    if not conditions:
        return []
    stmt = select(Resident).where(or_(*conditions)).options(selectinload(Resident.phones)).limit(limit)
    return list(session.scalars(stmt))
