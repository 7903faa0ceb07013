"""Normalised call events -> one ``Call`` row per call, keyed by (source, call id).

Every adapter (Asterisk, Twilio, the simulator, the generic ingest endpoint) ends here, so the
rules for "one call, counted once" live in one place:

* The row is found or created by ``(source, external_id)`` (unique). Creating races with a
  concurrent retry (two Twilio status callbacks at once) are settled by the unique constraint:
  the loser re-reads the winner's row.
* Events only ever fill in or move forward: ``started_at`` keeps the earliest time seen,
  ``answered_at`` the first answer; a second ``CallEnded`` for an ended call changes nothing, so
  replays after an AMI reconnect or a webhook retry never double-count.
* The caller is stored in E.164 when it parses in the deployment's region (as residents' numbers
  are), so a call links to its resident and repeat calls match across formats; a withheld or
  odd number is kept as received.
* The operator's user account is found by extension (``User.extension``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.auth.users import CALL_TAKING_ROLES
from dispatch.calls.callbacks import CallbackRules, on_call
from dispatch.calls.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    DigitsEntered,
    SmsReceived,
    VoicemailRecorded,
)
from dispatch.residents import repository
from dispatch.residents.phones import try_normalise
from models import Call, CallDirection, Disposition, User

__all__ = ["find_call", "operator_for_extension", "record_event"]


def find_call(session: Session, source: str, call_id: str) -> Call | None:
    return session.scalar(select(Call).where(Call.source == source, Call.external_id == call_id))


def operator_for_extension(session: Session, extension: str | None) -> User | None:
    """The active call-taking account on ``extension`` (an account of another role is never the
    operator of a call, even if an old extension were left on it)."""
    if not extension:
        return None
    return session.scalar(
        select(User).where(
            User.extension == extension, User.active.is_(True), User.role.in_(CALL_TAKING_ROLES)
        )
    )


def _caller(session: Session, call: Call, raw: str, region: str) -> None:
    if call.caller or not raw:
        return
    e164 = try_normalise(raw, region)
    call.caller = e164 or raw[:32]
    if e164 and call.resident_id is None:
        resident = repository.by_phone(session, e164)
        call.resident_id = resident.id if resident else None


def _get_or_create(session: Session, source: str, call_id: str, started_at: datetime) -> Call:
    call = find_call(session, source, call_id)
    if call is not None:
        return call
    call = Call(
        source=source,
        external_id=call_id[:64],
        direction=CallDirection.INBOUND,
        caller="",
        callee="",
        queue="",
        operator_ext="",
        started_at=started_at,
        hold_seconds=0,
        talk_seconds=0,
        recording_url="",
        ivr_digits="",
    )
    try:
        with session.begin_nested():
            session.add(call)
    except IntegrityError:
        # A concurrent retry of the same event stored the call first: use its row.
        existing = find_call(session, source, call_id)
        if existing is None:
            raise
        return existing
    return call


def _operator(session: Session, call: Call, extension: str | None) -> None:
    if not extension:
        return
    call.operator_ext = extension[:20]
    user = operator_for_extension(session, extension)
    call.operator_id = user.id if user else None


def record_event(
    session: Session, event: CallEvent, *, region: str, callbacks: CallbackRules | None = None
) -> Call | None:
    """Store one event; returns the call's row (``None`` for an SMS, which is not a call).

    Idempotent: feeding the same event twice leaves the row as feeding it once did. With
    ``callbacks`` (the running server's rules), a call that ends missed, abandoned or in a
    voicemail opens a callback or folds into the caller's waiting one (``calls.callbacks``).
    """
    if isinstance(event, SmsReceived):
        return None
    started = event.at
    if isinstance(event, CallEnded):
        started = event.started_at or event.answered_at or event.at
    call = _get_or_create(session, event.source, event.call_id, started)
    if started < call.started_at:
        call.started_at = started

    if isinstance(event, CallRinging):
        _caller(session, call, event.caller, region)
        call.callee = call.callee or event.callee[:32]
        call.queue = call.queue or (event.queue or "")[:50]
        if event.operator_ext and call.answered_at is None and call.ended_at is None:
            _operator(session, call, event.operator_ext)  # the phone ringing now
    elif isinstance(event, CallAnswered):
        if call.answered_at is None:
            call.answered_at = event.at
            _operator(session, call, event.operator_ext)
    elif isinstance(event, CallEnded):
        _caller(session, call, event.caller, region)
        call.queue = call.queue or (event.queue or "")[:50]
        if call.ended_at is None:
            call.ended_at = event.at
            call.disposition = Disposition(event.disposition)
            if call.recording_url and event.disposition in ("abandoned", "missed"):
                call.disposition = Disposition.VOICEMAIL  # they left a message after all
            call.hold_seconds = max(0, event.hold_seconds)
            call.talk_seconds = max(0, event.talk_seconds)
            if call.answered_at is None and event.answered_at is not None:
                call.answered_at = event.answered_at
            if event.operator_ext and (event.disposition == "answered" or not call.operator_ext):
                _operator(session, call, event.operator_ext)
    elif isinstance(event, VoicemailRecorded):
        _caller(session, call, event.caller, region)
        call.recording_url = event.recording_url[:500]
        if call.answered_at is None:
            call.disposition = Disposition.VOICEMAIL
    elif isinstance(event, DigitsEntered):
        call.ivr_digits = event.digits[:20]
    session.flush()
    if (
        callbacks is not None
        and isinstance(event, CallEnded | VoicemailRecorded)
        and call.ended_at is not None
    ):
        on_call(session, call, rules=callbacks)
        session.flush()
    return call
