"""Resident queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from models import Resident, ResidentPhone


def by_phone(session: Session, e164: str) -> Resident | None:
    stmt = (
        select(Resident)
        .join(ResidentPhone, ResidentPhone.resident_id == Resident.id)
        .where(ResidentPhone.e164 == e164)
        .options(selectinload(Resident.phones))
    )
    return session.scalar(stmt)


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
