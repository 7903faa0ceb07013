"""Residents' accounts: a resident record signed in to by one of its numbers.

A resident account *is* the resident record of the number that received the code: the first
sign-in of a number nobody has creates the record (unnamed, the number its primary phone), as the
call centre's intake would; a known number signs in to its resident, never to anyone else's. The
account row adds only the token version: signing out raises it, and every token issued before is
refused from then on (all the resident's devices sign in again).

A token names the resident and the phone row it signed in with; a request is taken only while that
number still belongs to that resident, so a number moved to another record takes nobody's sign-in
with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.auth.security import ResidentClaims
from dispatch.residents.phones import Phone
from dispatch.residents.service import LocationFacts, match_or_create
from models import ResidentAccount, ResidentPhone


@dataclass(frozen=True, slots=True)
class SignedInResident:
    """Who a resident token speaks for: the resident, the number signed in with, its version."""

    resident_id: int
    phone_id: int
    phone: str  # E.164
    token_version: int
    created: bool = False  # the sign-in made the resident record


def sign_in(session: Session, phone: Phone, *, now: datetime) -> SignedInResident:
    """The resident of ``phone``, created if the number is new, with its account (made on the
    first sign-in). Called once the code was found right, in the same transaction."""
    match = match_or_create(session, phone=phone, name=None, where=LocationFacts())
    resident_id = match.resident.id
    phone_id = session.scalar(select(ResidentPhone.id).where(ResidentPhone.e164 == phone.e164))
    assert phone_id is not None  # match_or_create found or made it
    account = session.get(ResidentAccount, resident_id)
    if account is None:
        try:
            with session.begin_nested():
                account = ResidentAccount(
                    resident_id=resident_id, token_version=0, created_at=now, last_sign_in_at=now
                )
                session.add(account)
        except IntegrityError:  # the other number of the same resident signed in just now
            account = session.get_one(ResidentAccount, resident_id, populate_existing=True)
    account.last_sign_in_at = now
    session.flush()
    return SignedInResident(resident_id, phone_id, phone.e164, account.token_version, match.created)


def current(session: Session, claims: ResidentClaims) -> SignedInResident | None:
    """The token's resident while its sign-in stands: the account's version is the token's and
    the number it signed in with is still the resident's."""
    row = session.execute(
        select(ResidentAccount.token_version, ResidentPhone.e164)
        .join(ResidentPhone, ResidentPhone.resident_id == ResidentAccount.resident_id)
        .where(ResidentAccount.resident_id == claims.resident_id, ResidentPhone.id == claims.phone_id)
    ).one_or_none()
    if row is None or row.token_version != claims.version:
        return None
    return SignedInResident(claims.resident_id, claims.phone_id, row.e164, row.token_version)


def sign_out(session: Session, resident_id: int) -> None:
    """End every sign-in of the resident (every device)."""
    session.execute(
        update(ResidentAccount)
        .where(ResidentAccount.resident_id == resident_id)
        .values(token_version=ResidentAccount.token_version + 1)
        .execution_options(synchronize_session=False)
    )
