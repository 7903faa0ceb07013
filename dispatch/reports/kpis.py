"""Supervisor KPIs over a period, overall or per group (DESIGN.md "Supervisor metrics").

Order metrics are about the orders *created* in [start, end); offers and ratings count when
they belong to those orders, whenever they happened. Call metrics are about inbound calls that
*started* in [start, end). Where the design leaves a choice:

- ``completed`` is the current status (completed or closed), so a reopened order counts again
  only once it is completed again; ``reopen_rate`` = orders of the period with reopen_count ≥ 1
  (whatever their status now) ÷ completed.
- An order or offer without a deadline (no ``complete_by`` / ``sign_by``) cannot be late.
- ``return_rate`` = declined + expired ÷ every offer made for the period's orders (pending,
  accepted and withdrawn ones too).
- Satisfaction counts every rating row with outcome "rated" (an order rated, reopened and rated
  again counts twice); unreachable / declined-to-rate callbacks are not ratings.
- Durations, in minutes from the order's creation: to accept and to arrive over the orders that
  have the timestamp (a reopen clears both); to complete over the orders counted as completed.
  p90 is nearest-rank: the smallest duration that at least 90 % of them do not exceed.
  Timestamps are compared to the millisecond.
- Grouped by provider, order metrics follow the order's current provider, offer metrics the
  provider the offer was made to, rating metrics the provider that was rated.
- A repeat call is an inbound call whose (non-empty) caller number's previous inbound call
  started at most 24 h before it, even before the period. Calls are counted overall and per day
  only (a call belongs to no category or provider).
- Rates are None when the denominator is 0.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session

from dispatch.reports.portable import collect, ms_since, offset_pieces, unpack
from models import (
    Area,
    Call,
    CallDirection,
    Category,
    Disposition,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderStatus,
    Provider,
    Rating,
    RatingOutcome,
)

Key = int | str | None
Metric = int | float | None
Counts = dict[str, Any]


class GroupBy(enum.StrEnum):
    CATEGORY = "category"
    ITEM = "item"
    PROVIDER = "provider"
    COMMUNITY = "community"
    DAY = "day"


ORDER_METRICS = (
    *("received", "cancelled", "completed", "completed_on_time", "closure_rate", "on_time_rate"),
    *("reopened", "reopen_rate"),
    *("offers", "offers_accepted", "offers_accepted_on_time", "offers_returned"),
    *("sign_on_time_rate", "return_rate"),
    *("ratings", "ratings_satisfied", "satisfaction_rate", "avg_rating"),
    *("mean_minutes_to_accept", "p90_minutes_to_accept", "mean_minutes_to_arrive"),
    *("p90_minutes_to_arrive", "mean_minutes_to_complete", "p90_minutes_to_complete"),
)
CALL_METRICS = (
    *("calls_inbound", "calls_answered", "calls_answered_15s", "calls_abandoned", "calls_repeat"),
    *("answer_rate", "answered_15s_rate", "abandon_rate", "repeat_call_rate"),
)
DONE = (OrderStatus.COMPLETED, OrderStatus.CLOSED)
RETURNED = (OfferStatus.DECLINED, OfferStatus.EXPIRED)
ANSWER_LIMIT_MS = 15_000
REPEAT_WINDOW = timedelta(hours=24)
REPEAT_WINDOW_MS = REPEAT_WINDOW.total_seconds() * 1000
# Yes/no facts about one order, offer or call, packed into one small integer per row.
CANCELLED, COMPLETED, ON_TIME, REOPENED = 1, 2, 4, 8
ACCEPTED, ACCEPTED_IN_TIME, OFFER_RETURNED = 1, 2, 4
ANSWERED, ABANDONED = 1, 2


@dataclass(frozen=True)
class Group:
    key: Key
    label: str | None
    metrics: dict[str, Metric]


@dataclass(frozen=True)
class Summary:
    start: datetime
    end: datetime
    group_by: GroupBy | None
    satisfied_min_stars: int
    groups: list[Group]

    @property
    def has_calls(self) -> bool:
        return self.group_by in (None, GroupBy.DAY)

    @property
    def metric_names(self) -> tuple[str, ...]:
        return ORDER_METRICS + CALL_METRICS if self.has_calls else ORDER_METRICS


# --- grouping -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grouping:
    """What orders, offers and ratings are grouped by (None: not grouped), and how the values
    fetched for it become group numbers."""

    order: Any
    offer: Any
    rating: Any
    codes: Callable[[list[Any]], tuple[np.ndarray, list[Key]]]
    by_day: bool = False


def _grouping(group_by: GroupBy | None, zone: ZoneInfo, start: datetime, end: datetime) -> _Grouping:
    if group_by == GroupBy.DAY:
        # Days are worked out here from the creation time: SQLite knows no time zones, and one
        # number per row is cheaper to fetch and group than one date string per row.
        created = ms_since(Order.created_at, start)
        return _Grouping(
            created, created, created, partial(_day_codes, zone=zone, start=start, end=end), True
        )
    if group_by == GroupBy.PROVIDER:
        return _Grouping(Order.provider_id, Offer.provider_id, Rating.provider_id, _id_codes)
    column = {
        None: None,
        GroupBy.CATEGORY: Order.category_id,
        GroupBy.ITEM: Order.item_id,
        GroupBy.COMMUNITY: Order.community_id,
    }[group_by]
    return _Grouping(column, column, column, _id_codes)


def _id_codes(ids: list[int | None]) -> tuple[np.ndarray, list[Key]]:
    """Each row's group as 0, 1, 2…, and the group ids in that order (None, if any, last)."""
    found, codes = np.unique(np.array(ids, dtype=np.float64), return_inverse=True)  # None → NaN
    return codes, [None if np.isnan(i) else int(i) for i in found]


def _day_codes(
    ms: list[int] | np.ndarray, *, zone: ZoneInfo, start: datetime, end: datetime
) -> tuple[np.ndarray, list[Key]]:
    """Each row's local day (ms since ``start`` → 0 for the first day…) and every day of the period."""
    first_day = start.astimezone(zone).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(zone).date()
    pieces = offset_pieces(zone, start, end)
    bounds = np.array([(at - start) // timedelta(milliseconds=1) for at, _ in pieces[1:]], dtype=np.int64)
    offsets = np.array([minutes * 60_000 for _, minutes in pieces], dtype=np.int64)
    at = np.asarray(ms).astype(np.int64)
    # Wall-clock ms since the first day's midnight: the start's own wall-clock time of day, plus
    # the time since the start, plus any change of UTC offset (DST) since the start.
    local_start = start.astimezone(zone)
    start_of_day = (
        local_start - local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    ).total_seconds()
    wall = at + int(start_of_day * 1000) + offsets[np.searchsorted(bounds, at, side="right")] - offsets[0]
    days = [(first_day + timedelta(days=n)).isoformat() for n in range((last_day - first_day).days + 1)]
    return wall // 86_400_000, days


# --- queries ------------------------------------------------------------------------------------
#
# Each query hands back its columns whole (see ``portable.collect``) and numpy groups and counts:
# a GROUP BY on SQLite sorts every row first, which costs more than the transfer.


def _fetch(
    session: Session, columns: list[Any], key: Any, *where: Any, join: tuple[Any, ...] = ()
) -> tuple[list[list[Any]], list[Any] | None]:
    """Each column over the matching rows as a list, and the rows' grouping values (None: ungrouped)."""
    stmt = select(*(collect(c) for c in (columns if key is None else [*columns, key])))
    if join:
        stmt = stmt.select_from(join[0]).join(*join[1:])
    values = [unpack(v) for v in session.execute(stmt.where(*where)).one()]
    return (values, None) if key is None else (values[:-1], values[-1])


def _tally(
    grouping: _Grouping, keys: list[Any] | None, rows: int, count_name: str, facts: dict[str, np.ndarray]
) -> tuple[dict[Key, Counts], np.ndarray, list[Key]]:
    """Per group: the row count and the sum of each fact; also each row's group number and the keys."""
    codes, groups = grouping.codes(keys) if keys is not None else (np.zeros(rows, dtype=np.int64), [None])
    count = np.bincount(codes, minlength=len(groups))
    sums = {name: np.bincount(codes, weights=values, minlength=len(groups)) for name, values in facts.items()}
    tallies = {
        k: {count_name: int(count[g])} | {name: int(s[g]) for name, s in sums.items()}
        for g, k in enumerate(groups)
    }
    return tallies, codes, groups


def _bits(packed: list[int], **bits: int) -> dict[str, np.ndarray]:
    values = np.array(packed, dtype=np.int64)
    return {name: (values & bit) > 0 for name, bit in bits.items()}


def _mean_p90(codes: np.ndarray, groups: int, ms: np.ndarray) -> list[tuple[float, float] | None]:
    """Per group (mean, nearest-rank p90) in minutes of the durations in ms that are not NaN."""
    present = ~np.isnan(ms)
    group, values = codes[present], ms[present].astype(np.int64)
    # One sort of group·2^41 + duration orders by group, then duration: durations are whole ms
    # below 2^40 (35 years), and one integer sort is several times faster than np.lexsort.
    packed = np.sort(group * (1 << 41) + (values + (1 << 40)))
    group, values = packed >> 41, (packed & ((1 << 41) - 1)) - (1 << 40)
    counts = np.bincount(group, minlength=groups)
    sums = np.bincount(group, weights=values, minlength=groups)
    ends = np.cumsum(counts)
    out: list[tuple[float, float] | None] = []
    for g in range(groups):
        n = int(counts[g])
        rank = (9 * n + 9) // 10  # ceil(0.9 n) in integers: 0.9 * n is not exact in binary
        p90 = float(values[int(ends[g]) - n + rank - 1]) if n else 0.0
        out.append((float(sums[g]) / n / 60_000, p90 / 60_000) if n else None)
    return out


def _order_counts(session: Session, grouping: _Grouping, period: Any, origin: datetime) -> dict[Key, Counts]:
    done = Order.status.in_(DONE)
    on_time = or_(Order.complete_by.is_(None), Order.completed_at <= Order.complete_by)
    flags = (
        case((Order.status == OrderStatus.CANCELLED, CANCELLED), else_=0)
        + case((done, COMPLETED), else_=0)
        + case((and_(done, on_time), ON_TIME), else_=0)
        + case((Order.reopen_count >= 1, REOPENED), else_=0)
    )
    # Timestamps as ms since one origin: each is parsed once, durations are differences here.
    columns = [
        flags,
        ms_since(Order.created_at, origin),
        ms_since(Order.accepted_at, origin),
        ms_since(Order.arrived_at, origin),
        case((done, ms_since(Order.completed_at, origin))),
    ]
    key = None if grouping.by_day else grouping.order  # by day: the creation time, fetched anyway
    (packed, created, *ends), keys = _fetch(session, columns, key, period)
    if not packed:
        return {}
    facts = _bits(
        packed, cancelled=CANCELLED, completed=COMPLETED, completed_on_time=ON_TIME, reopened=REOPENED
    )
    tallies, codes, groups = _tally(
        grouping, created if grouping.by_day else keys, len(packed), "received", facts
    )
    start_ms = np.array(created, dtype=np.float64)
    for name, end_ms in zip(("accept", "arrive", "complete"), ends, strict=True):
        stats = _mean_p90(codes, len(groups), np.array(end_ms, dtype=np.float64) - start_ms)
        for g, k in enumerate(groups):
            tallies[k][f"mean_minutes_to_{name}"] = stats[g][0] if stats[g] else None
            tallies[k][f"p90_minutes_to_{name}"] = stats[g][1] if stats[g] else None
    return tallies


def _offer_counts(session: Session, grouping: _Grouping, period: Any) -> dict[Key, Counts]:
    accepted = Offer.status == OfferStatus.ACCEPTED
    in_time = or_(Offer.sign_by.is_(None), Offer.responded_at <= Offer.sign_by)
    flags = (
        case((accepted, ACCEPTED), else_=0)
        + case((and_(accepted, in_time), ACCEPTED_IN_TIME), else_=0)
        + case((Offer.status.in_(RETURNED), OFFER_RETURNED), else_=0)
    )
    join = (Offer, Order, Order.id == Offer.order_id)
    (packed,), keys = _fetch(session, [flags], grouping.offer, period, join=join)
    if not packed:
        return {}
    facts = _bits(
        packed,
        offers_accepted=ACCEPTED,
        offers_accepted_on_time=ACCEPTED_IN_TIME,
        offers_returned=OFFER_RETURNED,
    )
    return _tally(grouping, keys, len(packed), "offers", facts)[0]


def _rating_counts(
    session: Session, grouping: _Grouping, period: Any, satisfied_min_stars: int
) -> dict[Key, Counts]:
    rated = and_(Rating.outcome == RatingOutcome.RATED, Rating.stars.is_not(None))
    join = (Rating, Order, Order.id == Rating.order_id)
    (stars,), keys = _fetch(session, [Rating.stars], grouping.rating, period, rated, join=join)
    if not stars:
        return {}
    values = np.array(stars, dtype=np.int64)
    facts = {"ratings_satisfied": values >= satisfied_min_stars, "stars": values}
    return _tally(grouping, keys, len(values), "ratings", facts)[0]


def _call_counts(session: Session, grouping: _Grouping, start: datetime, end: datetime) -> dict[Key, Counts]:
    """Inbound call counts, overall or per local day of the call's start.

    Repeats are found here by sorting the calls by number and time: a window function (lag over
    each caller's calls) or a probe per call into the caller index costs several times more on
    SQLite. The calls of the 24 h before the period are fetched too, only to find repeats.
    """
    disposition = case((Call.disposition == Disposition.ANSWERED, ANSWERED), else_=0) + case(
        (Call.disposition == Disposition.ABANDONED, ABANDONED), else_=0
    )
    columns = [disposition, Call.caller, ms_since(Call.started_at, start), ms_since(Call.answered_at, start)]
    inbound = and_(
        Call.direction == CallDirection.INBOUND,
        Call.started_at >= start - REPEAT_WINDOW,
        Call.started_at < end,
    )
    (packed, callers, started_ms, answered_ms), _ = _fetch(session, columns, None, inbound)
    if not packed:
        return {}
    numbers: dict[str, int] = {}
    caller = np.array([numbers.setdefault(c, len(numbers)) for c in callers], dtype=np.int64)
    started = np.array(started_ms, dtype=np.float64)
    by_caller = np.lexsort((started, caller))
    same_caller = caller[by_caller][1:] == caller[by_caller][:-1]
    repeat = np.zeros(len(packed), dtype=bool)
    repeat[by_caller[1:]] = same_caller & (np.diff(started[by_caller]) <= REPEAT_WINDOW_MS)
    facts = _bits(packed, calls_answered=ANSWERED, calls_abandoned=ABANDONED)
    waited = np.array(answered_ms, dtype=np.float64) - started
    facts["calls_answered_15s"] = facts["calls_answered"] & (waited <= ANSWER_LIMIT_MS)  # NaN → False
    facts["calls_repeat"] = repeat & (caller != numbers.get("", -1))  # no number: never a repeat
    inside = started >= 0
    in_period = {name: values[inside] for name, values in facts.items()}
    keys = started[inside] if grouping.by_day else None
    return _tally(grouping, keys, int(inside.sum()), "calls_inbound", in_period)[0]


def _labels(session: Session, group_by: GroupBy, ids: set[Key]) -> dict[Key, tuple[Key, str | None]]:
    """{group id: (public key, label)}: category/item keys are their codes, as elsewhere in the API."""
    wanted = [i for i in ids if i is not None]
    found: dict[Key, tuple[Key, str | None]] = {None: (None, None)}
    if group_by == GroupBy.DAY:
        found |= {i: (i, str(i)) for i in wanted}
    elif wanted and group_by in (GroupBy.CATEGORY, GroupBy.ITEM):
        model = Category if group_by == GroupBy.CATEGORY else Item
        rows = session.execute(select(model.id, model.code, model.name_zh).where(model.id.in_(wanted)))
        found |= {i: (code, name) for i, code, name in rows}
    elif wanted:
        named = Provider if group_by == GroupBy.PROVIDER else Area
        rows = session.execute(select(named.id, named.name).where(named.id.in_(wanted)))
        found |= {i: (i, name) for i, name in rows}
    return found


# --- assembling ---------------------------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _metrics(c: Counts, with_calls: bool) -> dict[str, Metric]:
    c = {"stars": 0} | c
    out: dict[str, Metric] = {name: c.get(name, 0) for name in ORDER_METRICS + CALL_METRICS}
    out |= {
        "closure_rate": _rate(out["completed"], out["received"] - out["cancelled"]),
        "on_time_rate": _rate(out["completed_on_time"], out["completed"]),
        "reopen_rate": _rate(out["reopened"], out["completed"]),
        "sign_on_time_rate": _rate(out["offers_accepted_on_time"], out["offers_accepted"]),
        "return_rate": _rate(out["offers_returned"], out["offers"]),
        "satisfaction_rate": _rate(out["ratings_satisfied"], out["ratings"]),
        "avg_rating": _rate(c["stars"], out["ratings"]),
        "answer_rate": _rate(out["calls_answered"], out["calls_inbound"]),
        "answered_15s_rate": _rate(out["calls_answered_15s"], out["calls_answered"]),
        "abandon_rate": _rate(out["calls_abandoned"], out["calls_inbound"]),
        "repeat_call_rate": _rate(out["calls_repeat"], out["calls_inbound"]),
    }
    for name in ORDER_METRICS:
        if "_minutes_to_" in name:
            out[name] = c.get(name)
    if not with_calls:
        for name in CALL_METRICS:
            del out[name]
    return out


def summarise(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    group_by: GroupBy | None = None,
    timezone: str = "Asia/Shanghai",
    satisfied_min_stars: int = 4,
) -> Summary:
    """All metrics for orders created (calls started) in [start, end); see the module docstring."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if start >= end:
        raise ValueError("start must be before end")
    zone = ZoneInfo(timezone)
    grouping = _grouping(group_by, zone, start, end)
    period = and_(Order.created_at >= start, Order.created_at < end)
    sources = [
        _order_counts(session, grouping, period, start),
        _offer_counts(session, grouping, period),
        _rating_counts(session, grouping, period, satisfied_min_stars),
    ]
    with_calls = group_by in (None, GroupBy.DAY)
    if with_calls:
        sources.append(_call_counts(session, grouping, start, end))
    ids: set[Key] = {None} if group_by is None else set().union(*sources)
    if group_by == GroupBy.DAY:
        ids |= set(grouping.codes([])[1])  # days without orders or calls show as zeros

    def metrics(i: Key) -> dict[str, Metric]:
        merged: Counts = {}
        for source in sources:
            merged |= source.get(i, {})
        return _metrics(merged, with_calls)

    if group_by is None:
        groups = [Group(None, None, metrics(None))]
    else:
        labels = _labels(session, group_by, ids)
        # A group whose row has gone since (an item deleted) keeps its id as the key.
        groups = sorted((Group(*labels.get(i, (i, None)), metrics(i)) for i in ids), key=_group_order)
    return Summary(start, end, group_by, satisfied_min_stars, groups)


def _group_order(group: Group) -> tuple[bool, bool, int, str]:
    """Ids ascending, codes and days alphabetically, the "no provider/community" group last."""
    k = group.key
    return (k is None, isinstance(k, str), k if isinstance(k, int) else 0, k if isinstance(k, str) else "")
