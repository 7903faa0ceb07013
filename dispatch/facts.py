"""The per-order fact rows the supervisor KPIs read (table ``order_fact``), kept in step with
every change to an order, its offers and its ratings, in the same transaction.

An order has one row per provider it concerns: part 0 for its current provider (or none) carries
the order's own facts (flag ``PRIMARY``, the status flags, the timestamps) and the counts of the
offers made to and ratings given to that provider; a further part per other provider that had an
offer or a rating of the order carries those counts only. Each row repeats the order's creation
time and its group keys (category, item, community), so any grouping sums rows without a join:
by provider, order facts follow the order's current provider, offer and rating counts the
provider they concern — as ``kpis.summarise`` defines them. Counts are packed, twelve bits each,
into two integers; a count that would not fit continues in another part (parts add up).

Inbound calls have one row each in ``call_fact`` (start, wait until answered, flags, the caller
number as an integer: ``caller_code``). Every row of both tables also holds its numbers packed in
one blob (``ORDER_PACKED``, ``CALL_PACKED``), which is what ``kpis.summarise`` reads.

Kept by session events (``install``, done by ``dispatch.db``): a flush notes the orders whose
Order, Offer or Rating objects it wrote (and the Call objects); statements that bypass the unit of work call ``touch``.
Before the transaction commits (or before ``summarise`` reads, ``sync``) the noted orders' rows
are rebuilt from what the database holds. The migration that creates the table fills it with
``backfill``. This module knows the tables by name only (no model classes) so that the migration
can use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

PRIMARY, CANCELLED, COMPLETED, ON_TIME, REOPENED = 1, 2, 4, 8, 16
# Call facts: flags, and the caller number as an integer (see ``caller_code``).
ANSWERED, ABANDONED = 1, 2
NO_NUMBER, TEXT_NUMBER = 0, -1
FIELD_BITS = 12
FIELD_MAX = (1 << FIELD_BITS) - 1
# The packed ``offers`` fields, lowest first; ``ratings`` holds the count of each star, 1 to 5.
OFFER_FIELDS = ("offers", "offers_made", "offers_accepted", "offers_accepted_on_time", "offers_returned")
STARS = (1, 2, 3, 4, 5)
BATCH = 500
PENDING = "sanshe_fact_orders"  # session.info key: ids of orders whose facts are to be rebuilt
PENDING_CALLS = "sanshe_fact_calls"  # … and of calls
# ``packed``: a row's numbers as one little-endian blob, which SQLite and PostgreSQL concatenate
# over a period in C (``portable.collect_blob``) for numpy to read in place: several times
# cheaper than any integer column handed over as text or row by row. NULL is ``MISSING``.
ORDER_PACKED = np.dtype(
    [(n, "<i8") for n in ("created_us", "accepted_us", "arrived_us", "completed_us", "offers", "ratings")]
    + [(n, "<i4") for n in ("flags", "category_id", "item_id", "community_id", "provider_id")]
)
ORDER_KEYS = ("category_id", "item_id", "community_id", "provider_id")
CALL_PACKED = np.dtype(
    [("started_us", "<i8"), ("wait_us", "<i8"), ("caller", "<i8"), ("call_id", "<i4"), ("flags", "<i4")]
)
MISSING = -(1 << 62)
MISSING_KEY = -(1 << 31)
_NUMBER = re.compile(r"\+?[0-9]{1,17}")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

order_fact = sa.table(
    "order_fact",
    *(sa.column(name, sa.BigInteger()) for name in ("order_id", "part", "created_us", "flags")),
    *(sa.column(name, sa.Integer()) for name in ("category_id", "item_id", "community_id", "provider_id")),
    *(sa.column(name, sa.BigInteger()) for name in ("offers", "ratings")),
    *(sa.column(name, sa.BigInteger()) for name in ("accepted_us", "arrived_us", "completed_us")),
    sa.column("packed", sa.LargeBinary()),
)
call_fact = sa.table(
    "call_fact",
    *(sa.column(name, sa.BigInteger()) for name in ("started_us", "caller")),
    *(sa.column(name, sa.Integer()) for name in ("call_id", "flags")),
    sa.column("packed", sa.LargeBinary()),
)
_call = sa.table(
    "call",
    *(sa.column(name) for name in ("id", "direction", "caller", "disposition")),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("started_at", "answered_at")),
)
_order = sa.table(
    "order",
    *(sa.column(name) for name in ("id", "category_id", "item_id", "community_id", "provider_id")),
    *(sa.column(name) for name in ("status", "reopen_count")),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("created_at", "complete_by")),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("accepted_at", "arrived_at", "completed_at")),
)
_offer = sa.table(
    "offer",
    *(sa.column(name) for name in ("order_id", "provider_id", "status")),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("sign_by", "responded_at")),
)
_rating = sa.table("rating", *(sa.column(name) for name in ("order_id", "provider_id", "outcome", "stars")))


def micros(moment: datetime | None) -> int | None:
    """Microseconds since 1970 UTC (SQLite hands timestamps back naive, in UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _US


def _or(value: int | None, missing: int) -> int:
    return missing if value is None else value


def _packed_order(row: dict[str, Any]) -> bytes:
    values = tuple(_or(row[n], MISSING) for n in ORDER_PACKED.names[:6])
    values += (row["flags"], *(_or(row[n], MISSING_KEY) for n in ORDER_KEYS))
    return np.array([values], dtype=ORDER_PACKED).tobytes()


def caller_code(number: str | None) -> int:
    """A caller number as an integer, the same for the same number and different for different
    ones: 0 for none; up to 17 digits with an optional "+" encode exactly (a leading 1 keeps
    leading zeros); any other text is ``TEXT_NUMBER`` and read as text where repeats are found."""
    if not number:
        return NO_NUMBER
    if _NUMBER.fullmatch(number):
        plus = number.startswith("+")
        return int("1" + number[plus:]) * 2 + plus
    return TEXT_NUMBER


def call_row(call: Any) -> dict[str, Any] | None:
    """The fact row of one call (a row of the call table as read here); None: not inbound."""
    if call.direction != "inbound":
        return None
    started = micros(call.started_at)
    answered = micros(call.answered_at)
    flags = (ANSWERED if call.disposition == "answered" else 0) | (
        ABANDONED if call.disposition == "abandoned" else 0
    )
    row = {"call_id": call.id, "started_us": started, "caller": caller_code(call.caller), "flags": flags}
    wait = MISSING if answered is None else answered - started
    packed = (started, wait, row["caller"], call.id, flags)
    return row | {"packed": np.array([packed], dtype=CALL_PACKED).tobytes()}


def _pack(counts: list[int]) -> int:
    return sum(n << (FIELD_BITS * i) for i, n in enumerate(counts))


def _at_most(values: list[int], limit: int) -> list[int]:
    return [min(v, limit) for v in values]


def fact_rows(order: Any, offers: Iterable[Any], ratings: Iterable[Any]) -> list[dict[str, Any]]:
    """The fact rows of one order (rows of the order, offer and rating tables as read here)."""
    slots: dict[int | None, list[int]] = {order.provider_id: [0] * (len(OFFER_FIELDS) + len(STARS))}
    for f in offers:
        made = f.status in ("accepted", "declined", "expired")
        accepted = f.status == "accepted"
        on_time = accepted and (
            f.sign_by is None or (f.responded_at is not None and f.responded_at <= f.sign_by)
        )
        counts = slots.setdefault(f.provider_id, [0] * (len(OFFER_FIELDS) + len(STARS)))
        for i, yes in enumerate((True, made, accepted, on_time, f.status in ("declined", "expired"))):
            counts[i] += yes
    for r in ratings:
        if r.outcome == "rated" and r.stars is not None:
            if r.stars not in STARS:
                raise ValueError(f"order {order.id}: a rating of {r.stars} stars")
            counts = slots.setdefault(r.provider_id, [0] * (len(OFFER_FIELDS) + len(STARS)))
            counts[len(OFFER_FIELDS) + r.stars - 1] += 1
    done = order.status in ("completed", "closed")
    flags = PRIMARY
    flags |= CANCELLED if order.status == "cancelled" else 0
    flags |= COMPLETED if done else 0
    # As the direct computation's SQL: no deadline is on time; a missing completion time is not.
    on_time = done and (
        order.complete_by is None
        or (order.completed_at is not None and order.completed_at <= order.complete_by)
    )
    flags |= ON_TIME if on_time else 0
    flags |= REOPENED if (order.reopen_count or 0) >= 1 else 0
    common = {
        "order_id": order.id,
        "created_us": micros(order.created_at),
        "category_id": order.category_id,
        "item_id": order.item_id,
        "community_id": order.community_id,
    }
    rows = []
    for provider, counts in slots.items():
        left = counts
        while True:  # a count beyond a field continues in the next part
            part = _at_most(left, FIELD_MAX)
            left = [a - b for a, b in zip(left, part, strict=True)]
            first = not rows
            rows.append(
                common
                | {
                    "part": len(rows),
                    "provider_id": provider,
                    "flags": flags if first else 0,
                    "offers": _pack(part[: len(OFFER_FIELDS)]),
                    "ratings": _pack(part[len(OFFER_FIELDS) :]),
                    "accepted_us": micros(order.accepted_at) if first else None,
                    "arrived_us": micros(order.arrived_at) if first else None,
                    "completed_us": micros(order.completed_at) if first and done else None,
                }
            )
            if not any(left):
                break
    for row in rows:
        row["packed"] = _packed_order(row)
    return rows


def _batches(ids: Iterable[int], size: int = BATCH) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for lo in range(0, len(ordered), size):
        yield ordered[lo : lo + size]


def refresh(conn: Connection, order_ids: Iterable[int]) -> int:
    """Rebuild the fact rows of these orders from the database (gone orders lose theirs)."""
    written = 0
    for ids in _batches(order_ids):
        orders = conn.execute(sa.select(*_order.c).where(_order.c.id.in_(ids))).all()
        offers: dict[int, list[Any]] = {}
        for f in conn.execute(sa.select(*_offer.c).where(_offer.c.order_id.in_(ids))):
            offers.setdefault(f.order_id, []).append(f)
        ratings: dict[int, list[Any]] = {}
        for r in conn.execute(sa.select(*_rating.c).where(_rating.c.order_id.in_(ids))):
            ratings.setdefault(r.order_id, []).append(r)
        conn.execute(sa.delete(order_fact).where(order_fact.c.order_id.in_(ids)))
        rows = [row for o in orders for row in fact_rows(o, offers.get(o.id, ()), ratings.get(o.id, ()))]
        if rows:
            conn.execute(sa.insert(order_fact), rows)
        written += len(rows)
    return written


def refresh_calls(conn: Connection, call_ids: Iterable[int]) -> int:
    """Rebuild the fact rows of these calls from the database (gone or outbound calls have none)."""
    written = 0
    for ids in _batches(call_ids):
        calls = conn.execute(sa.select(*_call.c).where(_call.c.id.in_(ids))).all()
        conn.execute(sa.delete(call_fact).where(call_fact.c.call_id.in_(ids)))
        rows = [row for c in calls if (row := call_row(c)) is not None]
        if rows:
            conn.execute(sa.insert(call_fact), rows)
        written += len(rows)
    return written


def _backfill(conn: Connection, table: Any, rebuild: Any, batch: int) -> int:
    written, last = 0, 0
    while True:
        ids = (
            conn.execute(sa.select(table.c.id).where(table.c.id > last).order_by(table.c.id).limit(batch))
            .scalars()
            .all()
        )
        if not ids:
            return written
        written += rebuild(conn, ids)
        last = ids[-1]


def backfill(conn: Connection, batch: int = 5000) -> int:
    """Build the fact rows of every order, a batch of orders at a time; returns the rows written."""
    return _backfill(conn, _order, refresh, batch)


def backfill_calls(conn: Connection, batch: int = 5000) -> int:
    """Build the fact rows of every call; returns the rows written."""
    return _backfill(conn, _call, refresh_calls, batch)


# --- keeping the rows in step -------------------------------------------------------------------


def touch(session: Session, order_id: int) -> None:
    """Note an order changed by a statement outside the unit of work (an UPDATE of its row, its offers)."""
    session.info.setdefault(PENDING, set()).add(order_id)


def touch_call(session: Session, call_id: int) -> None:
    """Note a call written by a statement outside the unit of work (a bulk insert)."""
    session.info.setdefault(PENDING_CALLS, set()).add(call_id)


def inserted(session: Session, table: str, row: Any) -> None:
    """Note the order of a row inserted outside the unit of work (``db.insert_one``)."""
    if table == "order":
        touch(session, row["id"])
    elif table in ("offer", "rating"):
        touch(session, row["order_id"])
    elif table == "call":
        touch_call(session, row["id"])


def sync(session: Session) -> None:
    """Rebuild the facts of the orders changed so far in this transaction (flushing first)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    pending = session.info.pop(PENDING, None)
    if pending:
        refresh(session.connection(), pending)
    calls = session.info.pop(PENDING_CALLS, None)
    if calls:
        refresh_calls(session.connection(), calls)


def _flushed(session: Session, _context: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table == "order":
            touch(session, obj.id)
        elif table in ("offer", "rating") and obj.order_id is not None:
            touch(session, obj.order_id)
        elif table == "call":
            touch_call(session, obj.id)


def _committing(session: Session) -> None:
    sync(session)


def _rolled_back(session: Session, *_args: Any) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(PENDING_CALLS, None)


def install() -> None:
    """Keep the facts of every session (idempotent)."""
    for name, listener in (
        ("after_flush", _flushed),
        ("before_commit", _committing),
        ("after_soft_rollback", _rolled_back),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
