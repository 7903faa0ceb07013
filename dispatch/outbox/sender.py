"""Send the outbox's due messages after the transactions that wrote them have committed.

Messages are written by :mod:`dispatch.outbox.messages` in the transaction of the change they
announce. :func:`send_due` takes due PENDING rows oldest first, ``CLAIM_CHUNK`` at a time::

    claim    (transaction 1, committed)  attempts += 1, external_id = "claim:<token>",
                                         next_attempt_at = now + claim_timeout
    deliver  (no transaction open)       adapter call: Twilio, AMI, the console …
    record   (transaction 2, committed)  SENT / retry later / FAILED, only if the row still carries
                                         our token (compare-and-set)

Concurrent senders: the claim selects with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two senders
take disjoint rows without waiting on each other; once claimed, a row is no longer due (its
next_attempt_at is in the future) for anyone. SQLite ignores the clause; its single writer (``BEGIN
IMMEDIATE``, see ``dispatch.db``) runs one claim at a time, and the next claim sees the last one.
No transaction is open while an adapter talks to the network: a slow provider never holds the
SQLite write lock or row locks.

Delivery guarantee — at most once for SMS and calls, at least once for console notifications.
The dangerous moment is a send whose outcome is unknown: the provider timed out (or the connection
broke) after it may have taken the message, or the sender died between the provider's answer and
recording it. Twilio's Messages and Calls APIs take no idempotency key, so resending then could
text or ring a resident twice — for an elderly resident a repeated rating call is worse than a
late one, and a worker with two identical offer texts does not know which to answer. So the claim
is committed *before* sending, and an SMS or call whose outcome is unknown becomes UNCERTAIN,
never PENDING again by itself:

* the adapter raised ``DeliveryError(uncertain=True)`` (a timeout), or
* the row still carries a claim token after ``claim_timeout``: its sender died mid-send.

UNCERTAIN rows are reconciled where the provider can be asked (``Adapters.sms_lookup`` /
``call_lookup``, Twilio): ``RECONCILE_AFTER`` later :func:`reconcile` looks the message up from
the claim's time on — found: SENT with the provider's id; certainly not there: PENDING, sent again
at once (counting the attempt); the lookup cannot tell: tried again every ``RECONCILE_RETRY`` for
``RECONCILE_WINDOW``. What stays UNCERTAIN is an admin's worklist (``GET
/api/v1/outbox?status=uncertain``): resend (back to PENDING) or drop (DROPPED). Notifications are
ours end to end: the payload carries ``outbox_id`` and receivers deduplicate on it, so an
orphaned or timed-out notification is simply sent again. A *temporary* failure that is not
uncertain says the provider did not take the message, and it is retried with backoff.

Statuses and their moves (each a compare-and-set)::

    PENDING ──claim──▶ (claimed) ──▶ SENT | PENDING (retry later) | FAILED (permanent, or gave up)
                           └──── timeout / claim expired ──▶ UNCERTAIN     (notifications: PENDING)
    UNCERTAIN ──lookup──▶ SENT (found) | PENDING (certainly not sent) | UNCERTAIN (cannot tell)
    UNCERTAIN ──admin──▶ PENDING (resend) | DROPPED (drop)

Short-lived messages (a resident's sign-in code) carry ``valid_until`` and ``sent_body`` in their
payload: past ``valid_until`` an unsent one is FAILED without being sent (a late code is useless),
and once its outcome is recorded the row keeps ``sent_body`` (the text with the code masked)
instead of what was sent, so the database holds the code only while it waits to go. Such a
message is never UNCERTAIN: an unknown outcome makes it FAILED, since looking it up needs the
text, and the resident simply asks for a new code.

``send_due`` commits: it is a runner, like the tracking loop, not a service. It refuses a session
that already has a transaction open. ``send_now`` sends given messages at once (a sign-in code
right after the request that wrote it commits).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.ports import Adapters, DeliveryError, Recipient
from models import OutboxChannel, OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)

CLAIM_PREFIX = "claim:"
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
# Far longer than a chunk of adapter calls can take (10 sends x 10 s HTTP timeout), so a row is
# treated as orphaned only when its sender is really gone.
DEFAULT_CLAIM_TIMEOUT = timedelta(minutes=15)
CLAIM_CHUNK = 10
# A provider that timed out may still be finishing the request: look it up only this much later.
RECONCILE_AFTER = timedelta(minutes=1)
# A lookup that could not tell is tried again this often, for this long; then only an admin acts.
RECONCILE_RETRY = timedelta(minutes=10)
RECONCILE_WINDOW = timedelta(hours=24)
# Channels whose receivers deduplicate on outbox_id: resending after a crash is harmless.
AT_LEAST_ONCE = frozenset({OutboxChannel.NOTIFY})


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0  # outcome unknown: not resent (SMS, calls)
    reconciled: int = 0  # uncertain ones the provider's lookup settled (sent, or to be sent again)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.uncertain + self.reconciled


@dataclass(frozen=True, slots=True)
class _Claim:
    id: int
    channel: OutboxChannel
    recipient: str
    body: str
    payload: dict[str, Any]
    attempts: int  # including this one
    token: str


def _short_lived(payload: dict[str, Any]) -> bool:
    return "valid_until" in payload


def _expired(payload: dict[str, Any], now: datetime) -> bool:
    until = payload.get("valid_until")
    return isinstance(until, str) and datetime.fromisoformat(until) <= now


def _kept_body(payload: dict[str, Any]) -> dict[str, Any]:
    """What a finished message's row keeps of its text: ``sent_body`` when it has one."""
    sent_body = payload.get("sent_body")
    return {"body": sent_body} if isinstance(sent_body, str) else {}


def retry_delay(attempts: int, message_id: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min … at most 1 h.

    Each delay is shortened by up to 20 %, by an amount derived from the message id and attempt:
    reproducible in tests, yet messages that failed together (a provider outage) come back spread
    out instead of all in the same second.
    """
    exponent = min(max(attempts, 1) - 1, 16)
    base = min(RETRY_BASE * 2**exponent, RETRY_CAP)
    digest = hashlib.blake2b(f"{message_id}:{attempts}".encode(), digest_size=4).digest()
    fraction = int.from_bytes(digest, "big") / 0xFFFFFFFF
    return timedelta(seconds=round(base.total_seconds() * (1 - 0.2 * fraction)))


# --- send ------------------------------------------------------------------------------------


def send_due(
    session: Session,
    *,
    now: datetime,
    adapters: Adapters,
    batch: int = 100,
    max_attempts: int = 8,
    claim_timeout: timedelta = DEFAULT_CLAIM_TIMEOUT,
    time_budget: float | None = 20.0,
    only: Collection[int] | None = None,
) -> SendReport:
    """Send up to ``batch`` due messages; commits after each claim and each outcome.

    Stops early after ``time_budget`` seconds of wall time (checked between chunks of
    ``CLAIM_CHUNK``) so a slow provider cannot hold up the tracking loop's other jobs; the rest
    waits for the next run. ``only``: just these messages, if due (``send_now``).
    """
    if session.in_transaction():
        # Committing the claim would commit the caller's unfinished work with it.
        raise RuntimeError("send_due commits as it goes; call it with a session that has no open transaction")
    report = SendReport()
    started = time.monotonic()
    if only is None:
        reconcile(session, now=now, adapters=adapters, limit=batch, report=report)
    while report.handled < batch:
        if time_budget is not None and time.monotonic() - started > time_budget:
            break
        limit = min(CLAIM_CHUNK, batch - report.handled)
        selected, claims = _claim(
            session,
            now=now,
            limit=limit,
            max_attempts=max_attempts,
            claim_timeout=claim_timeout,
            report=report,
            only=only,
        )
        session.commit()
        for i, claim in enumerate(claims):
            try:
                _send_one(
                    session,
                    claim,
                    now=now,
                    adapters=adapters,
                    max_attempts=max_attempts,
                    report=report,
                )
            except BaseException:
                # Interrupted (shutdown, a database error): the rest of the chunk was never sent,
                # so hand it back now rather than let it look orphaned later.
                _release(session, claims[i + 1 :], now=now)
                raise
        if selected < limit:
            break
    return report


def send_now(
    session: Session, message_ids: Collection[int], *, now: datetime, adapters: Adapters
) -> SendReport:
    """Send these messages now, if still due (the tracking loop may have taken them already)."""
    return send_due(session, now=now, adapters=adapters, batch=len(message_ids), only=message_ids)


def _claim(
    session: Session,
    *,
    now: datetime,
    limit: int,
    max_attempts: int,
    claim_timeout: timedelta,
    report: SendReport,
    only: Collection[int] | None = None,
) -> tuple[int, list[_Claim]]:
    """Take up to ``limit`` due rows; returns how many were selected and the ones to send."""
    m = OutboxMessage
    due = select(
        m.id, m.channel, m.recipient, m.body, m.payload, m.order_id, m.attempts, m.external_id
    ).where(m.status == OutboxStatus.PENDING, m.next_attempt_at <= now)
    if only is not None:
        due = due.where(m.id.in_(list(only)))
    rows = session.execute(
        due.order_by(m.next_attempt_at, m.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    token = CLAIM_PREFIX + secrets.token_hex(8)
    claims: list[_Claim] = []
    for row in rows:
        orphaned = row.external_id.startswith(CLAIM_PREFIX)
        payload = dict(row.payload or {})
        if _expired(payload, now) or (orphaned and _short_lived(payload)):
            why = (
                "outcome unknown (the sender stopped)"
                if orphaned
                else "not sent: it expired before it could go"
            )
            _set(session, row.id, now, status=OutboxStatus.FAILED, last_error=why, **_kept_body(payload))
            report.failed += 1
            continue
        if orphaned and row.channel not in AT_LEAST_ONCE:
            # Keep the old token: should that sender still be alive, its true outcome wins.
            _set(session, row.id, now, status=OutboxStatus.UNCERTAIN, last_error=_orphan_error(row.attempts))
            log.warning("outbox %s: orphaned %s send is uncertain (outcome unknown)", row.id, row.channel)
            report.uncertain += 1
            continue
        if orphaned and row.attempts >= max_attempts:
            _set(
                session,
                row.id,
                now,
                status=OutboxStatus.FAILED,
                last_error=f"gave up after {row.attempts} attempts; the last sender stopped before "
                "recording its outcome",
            )
            report.failed += 1
            continue
        claims.append(
            _Claim(
                id=row.id,
                channel=OutboxChannel(row.channel),
                recipient=row.recipient,
                body=row.body,
                # Receivers (console, rating call) learn which order it is about.
                payload={"order_id": row.order_id} | dict(row.payload or {})
                if row.order_id
                else dict(row.payload or {}),
                attempts=row.attempts + 1,
                token=token,
            )
        )
    if claims:
        session.execute(
            update(m)
            .where(m.id.in_([c.id for c in claims]))
            .values(
                external_id=token,
                attempts=m.attempts + 1,
                next_attempt_at=now + claim_timeout,
                claimed_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    return len(rows), claims


def _release(session: Session, claims: list[_Claim], *, now: datetime) -> None:
    if not claims:
        return
    m = OutboxMessage
    try:
        session.rollback()
        session.execute(
            update(m)
            .where(m.id.in_([c.id for c in claims]), m.external_id == claims[0].token)
            .values(external_id="", attempts=m.attempts - 1, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    except Exception:  # best effort: if this fails too, the claims expire and are handled then
        log.exception("outbox: could not release %d unsent claims", len(claims))
        session.rollback()


def _set(session: Session, message_id: int, now: datetime, **values: Any) -> None:
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(next_attempt_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def _orphan_error(attempts: int) -> str:
    return (
        f"attempt {attempts}: outcome unknown — the sender stopped before recording whether the "
        "provider took the message; not resent, to avoid a duplicate"
    )


def _deliver(claim: _Claim, adapters: Adapters) -> str:
    if claim.channel is OutboxChannel.SMS:
        return adapters.sms.send_sms(claim.recipient, claim.body)
    payload = {**claim.payload, "outbox_id": claim.id}
    if claim.channel is OutboxChannel.CALL:
        return adapters.calls.place_call(claim.recipient, payload)
    return adapters.notifier.notify(Recipient.parse(claim.recipient), claim.body, payload)


def _send_one(
    session: Session,
    claim: _Claim,
    *,
    now: datetime,
    adapters: Adapters,
    max_attempts: int,
    report: SendReport,
) -> None:
    error: DeliveryError | None = None
    external_id = ""
    try:
        external_id = str(_deliver(claim, adapters))
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # an adapter bug or a vendor failure it did not map: retry, bounded
        log.exception("outbox %s: %s adapter raised an unexpected error", claim.id, claim.channel)
        error = DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False)

    values: dict[str, Any] = {"next_attempt_at": now, "external_id": ""}
    short_lived = _short_lived(claim.payload)
    if error is None:
        outcome = "sent"
        values.update(status=OutboxStatus.SENT, sent_at=now, external_id=external_id[:64])
    elif error.uncertain and short_lived:
        outcome = "failed"
        values.update(
            status=OutboxStatus.FAILED,
            last_error=f"attempt {claim.attempts}: outcome unknown — {error}; a short-lived message "
            "is neither looked up nor resent",
        )
    elif error.uncertain and claim.channel not in AT_LEAST_ONCE:
        outcome = "uncertain"
        values.update(
            status=OutboxStatus.UNCERTAIN,
            last_error=f"attempt {claim.attempts}: outcome unknown — {error}; not resent, to avoid a duplicate",
            next_attempt_at=now + RECONCILE_AFTER,
        )
    elif error.permanent or claim.attempts >= max_attempts:
        outcome = "failed"
        prefix = (
            f"attempt {claim.attempts}" if error.permanent else f"gave up after {claim.attempts} attempts"
        )
        values.update(status=OutboxStatus.FAILED, last_error=f"{prefix}: {error}")
    else:
        outcome = "retried"
        values.update(
            status=OutboxStatus.PENDING,
            last_error=f"attempt {claim.attempts}: {error}",
            next_attempt_at=now + retry_delay(claim.attempts, claim.id),
        )

    if short_lived and outcome != "retried":
        values.update(_kept_body(claim.payload))
    m = OutboxMessage
    recorded = session.execute(
        update(m)
        .where(m.id == claim.id, m.external_id == claim.token)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if recorded.rowcount != 1:
        # Only after claim_timeout ran out while this sender was still busy.
        log.warning("outbox %s: outcome %r not recorded, the row was taken over meanwhile", claim.id, outcome)
        return
    if error is not None:
        log.warning("outbox %s (%s) %s: %s", claim.id, claim.channel, outcome, error)
    setattr(report, outcome, getattr(report, outcome) + 1)


# --- reconcile -------------------------------------------------------------------------------


def reconcile(
    session: Session, *, now: datetime, adapters: Adapters, limit: int = 100, report: SendReport | None = None
) -> SendReport:
    """Ask the provider about due UNCERTAIN messages; commits. Rows whose channel has no lookup
    (Asterisk calls, the log) or whose claim is older than ``RECONCILE_WINDOW`` are left for an
    admin. Like sending, no transaction is open while the provider is asked."""
    report = report if report is not None else SendReport()
    lookups = {OutboxChannel.SMS: adapters.sms_lookup, OutboxChannel.CALL: adapters.call_lookup}
    channels = [channel for channel, lookup in lookups.items() if lookup is not None]
    if not channels:
        return report
    m = OutboxMessage
    rows = session.execute(
        select(m.id, m.channel, m.recipient, m.body, m.claimed_at)
        .where(
            m.status == OutboxStatus.UNCERTAIN,
            m.next_attempt_at <= now,
            m.channel.in_(channels),
            m.claimed_at >= now - RECONCILE_WINDOW,
        )
        .order_by(m.next_attempt_at, m.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:  # taken for this lookup: another sender skips them until RECONCILE_RETRY
        session.execute(
            update(m)
            .where(m.id.in_([r.id for r in rows]))
            .values(next_attempt_at=now + RECONCILE_RETRY)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    for row in rows:
        lookup = lookups[OutboxChannel(row.channel)]
        assert lookup is not None and row.claimed_at is not None
        try:
            found = lookup.find_sent(row.recipient, row.body, row.claimed_at)
        except DeliveryError as exc:
            log.warning("outbox %s: still uncertain, the provider's lookup cannot tell: %s", row.id, exc)
            _record_lookup(session, row.id, now, last_error=f"looked up at {now:%Y-%m-%d %H:%M}Z: {exc}")
            continue
        except Exception as exc:  # an adapter bug: the row stays uncertain, for the next try or an admin
            log.exception("outbox %s: the %s lookup raised an unexpected error", row.id, row.channel)
            _record_lookup(session, row.id, now, last_error=f"lookup failed: {type(exc).__name__}: {exc}")
            continue
        if found:
            values = {
                "status": OutboxStatus.SENT,
                "sent_at": now,
                "external_id": found[:64],
                "next_attempt_at": now,
            }
            note = f"the provider has it ({found})"
        else:
            values = {"status": OutboxStatus.PENDING, "external_id": "", "next_attempt_at": now}
            note = "the provider has no such message: sending again"
        if _record_lookup(session, row.id, now, last_error=f"reconciled: {note}", **values):
            log.info("outbox %s: reconciled, %s", row.id, note)
            report.reconciled += 1
    return report


def _record_lookup(session: Session, message_id: int, now: datetime, **values: Any) -> bool:
    m = OutboxMessage
    done = session.execute(
        update(m)
        .where(m.id == message_id, m.status == OutboxStatus.UNCERTAIN)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return done.rowcount == 1
