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
  Timestamps are rounded to the millisecond (``portable.ms_since``), and so are call waits.
- Grouped by provider, order metrics follow the order's current provider, offer metrics the
  provider the offer was made to, rating metrics the provider that was rated.
- A repeat call is an inbound call with a (non-empty) caller number from which another inbound
  call started earlier, at most 24 h before it, even before the period. Calls are counted
  overall and per day only (a call belongs to no category or provider).
- Rates are None when the denominator is 0.

How it is computed depends on the database (``summarise(in_sql=…)``), with the same figures:
PostgreSQL counts in SQL, one row per group (``percentile_disc`` is nearest-rank, and a hash
semi-join finds repeat calls). SQLite has no percentile and no hash aggregation: a GROUP BY sorts
every row, which costs more than handing the few columns needed over whole (``portable.collect``)
for numpy to count.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Interval, LargeBinary, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from dispatch import facts
from dispatch.reports.portable import (
    DAY_MS,
    MISSING,
    collect,
    collect_blob,
    collect_text,
    in_one_piece,
    local_day,
    local_day_numbers,
    ms_since,
    ms_since_us,
    unpack,
    unpack_blob,
    unpack_text,
    us_since_epoch,
)
from models import (
    Area,
    Call,
    Callback,
    CallDirection,
    CallFact,
    Category,
    Disposition,
    Item,
    Offer,
    OfferStatus,
    Order,
    OrderFact,
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
    WEEK = "week"
    MONTH = "month"


# Groupings by the local date: every day, ISO week or month of the period is a group (empty
# ones too), and call metrics are counted per group as well.
CALENDAR = (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH)


ORDER_METRICS = (
    *("received", "cancelled", "completed", "completed_on_time", "closure_rate", "on_time_rate"),
    *("reopened", "reopen_rate"),
    *("offers", "offers_made", "offers_accepted", "offers_accepted_on_time", "offers_returned"),
    *("sign_on_time_rate", "return_rate"),
    *("ratings", "ratings_satisfied", "satisfaction_rate", "avg_rating"),
    *(
        f"{stat}_minutes_to_{end}"
        for end in ("accept", "arrive", "complete")
        for stat in ("mean", "p50", "p90")
    ),
)
CALL_METRICS = (
    *("calls_inbound", "calls_answered", "calls_answered_15s", "calls_abandoned", "calls_repeat"),
    *("answer_rate", "answered_15s_rate", "abandon_rate", "repeat_call_rate"),
    *("callbacks", "callbacks_called_on_time", "callbacks_never_called", "callback_on_time_rate"),
)
DONE = (OrderStatus.COMPLETED, OrderStatus.CLOSED)
RETURNED = (OfferStatus.DECLINED, OfferStatus.EXPIRED)
# Offers made to a provider, for the sign-on-time rate: answered in time or not (withdrawn ones
# never had the chance, pending ones have not had it yet).
MADE = (OfferStatus.ACCEPTED, *RETURNED)
ANSWER_LIMIT_MS = 15_000
REPEAT_WINDOW_MS = DAY_MS
# Calls fetched before the period to find repeats: the window, and a second for the rounding.
REPEAT_LOOKBACK = timedelta(milliseconds=REPEAT_WINDOW_MS, seconds=1)


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
        return self.group_by is None or self.group_by in CALENDAR

    @property
    def metric_names(self) -> tuple[str, ...]:
        return ORDER_METRICS + CALL_METRICS if self.has_calls else ORDER_METRICS


# --- days, weeks and months --------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The local days of [start, end) gathered into groups of a calendar grouping.

    Day numbers count from the period's first local date (0); a group is numbered from 0 too:
    the day itself, the ISO week (Monday to Sunday) or the month. Keys are ISO dates (the day,
    the week's Monday, which may fall before the period) or "YYYY-MM"; week labels "2026-W47".
    """

    group_by: GroupBy
    first_day: date
    last_day: date

    @classmethod
    def of(cls, group_by: GroupBy, start: datetime, end: datetime, zone: ZoneInfo) -> Calendar:
        last = (end - timedelta(microseconds=1)).astimezone(zone).date()
        return cls(group_by, start.astimezone(zone).date(), last)

    def _month_starts(self) -> list[int]:
        """Day numbers of the first day of each month after the first one."""
        starts, (year, month) = [], (self.first_day.year, self.first_day.month)
        while True:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            first = date(year, month, 1)
            if first > self.last_day:
                return starts
            starts.append((first - self.first_day).days)

    def group_sql(self, day: Any) -> Any:
        """The group number of an SQL day number (≥ 0 for instants in the period)."""
        if self.group_by == GroupBy.DAY:
            return day
        if self.group_by == GroupBy.WEEK:
            return (day + self.first_day.weekday()) // 7
        starts = self._month_starts()
        if not starts:
            return day * 0  # an expression, not a constant: PostgreSQL groups by it alike
        return case(*((day >= first, n) for n, first in reversed(list(enumerate(starts, 1)))), else_=0)

    def group_of(self, days: np.ndarray) -> np.ndarray:
        """The group numbers of day numbers, in numpy."""
        if self.group_by == GroupBy.DAY:
            return days
        if self.group_by == GroupBy.WEEK:
            return (days + self.first_day.weekday()) // 7
        return np.searchsorted(np.array(self._month_starts(), dtype=np.int64), days, side="right")

    def groups(self) -> list[tuple[int, str, str]]:
        """Every group of the period: (number, key, label)."""
        if self.group_by == GroupBy.DAY:
            days = (self.last_day - self.first_day).days + 1
            return [(n, d, d) for n in range(days) if (d := (self.first_day + timedelta(days=n)).isoformat())]
        if self.group_by == GroupBy.WEEK:
            monday = self.first_day - timedelta(days=self.first_day.weekday())
            weeks = (self.last_day - monday).days // 7 + 1
            out = []
            for n in range(weeks):
                day = monday + timedelta(weeks=n)
                year, week, _ = day.isocalendar()
                out.append((n, day.isoformat(), f"{year}-W{week:02d}"))
            return out
        months = [self.first_day, *(self.first_day + timedelta(days=d) for d in self._month_starts())]
        return [(n, f"{m.year}-{m.month:02d}", f"{m.year}-{m.month:02d}") for n, m in enumerate(months)]


# --- what is counted ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """One table's rows for the period as SQL expressions: the group key of each row (None:
    not grouped), yes/no facts counted per group, numbers summed per group, and durations in ms
    from ``since`` to each end (NULL: not counted) whose mean and p90 are wanted."""

    count_name: str
    key: Any
    where: list[Any]
    join: tuple[Any, ...] = ()
    counts: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    since: Any = None
    ends: dict[str, Any] = field(default_factory=dict)
    # A column whose smallest and largest value per group ``_count_in_sql`` reports too.
    extent: Any = None

    def select(self, *columns: Any) -> Any:
        stmt = select(*columns)
        if self.join:
            stmt = stmt.select_from(self.join[0]).join(*self.join[1:])
        return stmt.where(*self.where)


def _keys(group_by: GroupBy | None, day: Any) -> tuple[Any, Any, Any]:
    """The group key of an order, an offer and a rating (``day``: the calendar group of a timestamp)."""
    if group_by in CALENDAR:
        return day(Order.created_at), day(Order.created_at), day(Order.created_at)
    if group_by == GroupBy.PROVIDER:
        return Order.provider_id, Offer.provider_id, Rating.provider_id
    column = {
        None: None,
        GroupBy.CATEGORY: Order.category_id,
        GroupBy.ITEM: Order.item_id,
        GroupBy.COMMUNITY: Order.community_id,
    }[group_by]
    return column, column, column


def _order_facts(
    key: Any, period: Any, start: datetime, satisfied_min_stars: int, complaint_max_stars: int | None
) -> list[_Facts]:
    """Orders, their offers and their ratings."""
    order_key, offer_key, rating_key = key
    done = Order.status.in_(DONE)
    accepted = Offer.status == OfferStatus.ACCEPTED
    orders = _Facts(
        "received",
        order_key,
        [period],
        counts={
            "cancelled": Order.status == OrderStatus.CANCELLED,
            "completed": done,
            "completed_on_time": and_(
                done, or_(Order.complete_by.is_(None), Order.completed_at <= Order.complete_by)
            ),
            "reopened": Order.reopen_count >= 1,
        },
        since=ms_since(Order.created_at, start),
        ends={
            "accept": ms_since(Order.accepted_at, start),
            "arrive": ms_since(Order.arrived_at, start),
            "complete": case((done, ms_since(Order.completed_at, start))),
        },
        extent=Order.id,
    )
    offers = _Facts(
        "offers",
        offer_key,
        [period],
        (Offer, Order, Order.id == Offer.order_id),
        counts={
            "offers_made": Offer.status.in_(MADE),
            "offers_accepted": accepted,
            "offers_accepted_on_time": and_(
                accepted, or_(Offer.sign_by.is_(None), Offer.responded_at <= Offer.sign_by)
            ),
            "offers_returned": Offer.status.in_(RETURNED),
        },
    )
    ratings = _Facts(
        "ratings",
        rating_key,
        [period, Rating.outcome == RatingOutcome.RATED, Rating.stars.is_not(None)],
        (Rating, Order, Order.id == Rating.order_id),
        counts={"ratings_satisfied": Rating.stars >= satisfied_min_stars}
        | ({} if complaint_max_stars is None else {"complaints": Rating.stars <= complaint_max_stars}),
        totals={"stars": Rating.stars},
    )
    return [orders, offers, ratings]


def _call_facts(key: Any, start: datetime, end: datetime) -> _Facts:
    """Inbound calls that started in the period (repeats: see ``_repeats_in_sql`` / ``_collect_calls``)."""
    answered = Call.disposition == Disposition.ANSWERED
    waited = ms_since(Call.answered_at, start) - ms_since(Call.started_at, start)
    return _Facts(
        "calls_inbound",
        key,
        [Call.direction == CallDirection.INBOUND, Call.started_at >= start, Call.started_at < end],
        counts={
            "calls_answered": answered,
            "calls_answered_15s": and_(answered, waited <= ANSWER_LIMIT_MS),
            "calls_abandoned": Call.disposition == Disposition.ABANDONED,
        },
    )


def _callback_facts(key: Any, start: datetime, end: datetime) -> _Facts:
    """Callbacks opened in the period: called back by their due time, or never called back."""
    return _Facts(
        "callbacks",
        key,
        [Callback.created_at >= start, Callback.created_at < end],
        counts={
            "callbacks_called_on_time": and_(
                Callback.first_attempt_at.is_not(None), Callback.first_attempt_at <= Callback.due_at
            ),
            "callbacks_never_called": Callback.attempts == 0,
        },
    )


# --- counting in SQL (PostgreSQL) ---------------------------------------------------------------


def _count_in_sql(session: Session, facts: _Facts) -> dict[Key, Counts]:
    """One row per group: COUNT … FILTER and percentile_disc (nearest-rank) do the work."""
    grouped = facts.key is not None
    inner = [facts.key.label("key")] if grouped else []
    inner += [condition.label(f"c{i}") for i, condition in enumerate(facts.counts.values())]
    inner += [value.label(f"t{i}") for i, value in enumerate(facts.totals.values())]
    if facts.ends:
        inner += [
            facts.since.label("since"),
            *(end.label(f"e{i}") for i, end in enumerate(facts.ends.values())),
        ]
    if facts.extent is not None:
        inner.append(facts.extent.label("extent"))
    rows = facts.select(*inner)
    if facts.ends:
        # Each timestamp converted once per row, in a subquery that OFFSET 0 keeps PostgreSQL
        # from merging into the outer query (and so converting it again in every aggregate).
        # percentile_disc sorts in one process anyway: no parallel plan is lost.
        rows = rows.offset(0)
    rows = rows.subquery()
    aggregates = [func.count(), *(func.count().filter(rows.c[f"c{i}"]) for i in range(len(facts.counts)))]
    aggregates += [func.sum(rows.c[f"t{i}"]) for i in range(len(facts.totals))]
    for i in range(len(facts.ends)):
        duration = rows.c[f"e{i}"] - rows.c.since
        aggregates += [
            func.count(duration),
            func.sum(duration),
            func.percentile_disc(0.5).within_group(duration),
            func.percentile_disc(0.9).within_group(duration),
        ]
    if facts.extent is not None:
        aggregates += [func.min(rows.c.extent), func.max(rows.c.extent)]
    if grouped:
        stmt = select(rows.c.key, *aggregates).group_by(rows.c.key)
    else:
        stmt = select(literal(None), *aggregates).select_from(rows)
    tallies: dict[Key, Counts] = {}
    for k, n, *values in session.execute(stmt):
        row = iter(values)
        counts = {facts.count_name: n} | {name: next(row) for name in facts.counts}
        counts |= {name: int(next(row) or 0) for name in facts.totals}
        for name in facts.ends:
            m, total, p50, p90 = next(row), next(row), next(row), next(row)
            counts |= _durations(name, m, int(total or 0), p50, p90)
        if facts.extent is not None:
            counts["extent"] = (next(row), next(row))
        tallies[k] = counts
    return tallies


def _within_ids(orders: dict[Key, Counts], *joined: _Facts) -> list[_Facts]:
    """The offers and ratings facts told the id range of the period's orders (none: no orders).

    Implied by the join, but PostgreSQL does not work it out: told, it reads the offers and
    ratings of that id range instead of every row. Ids follow creation time closely in
    practice; where they do not, the range is merely wider.
    """
    ranges = [c["extent"] for c in orders.values() if c["extent"][0] is not None]
    if not ranges:
        return []
    first, last = min(r[0] for r in ranges), max(r[1] for r in ranges)
    return [
        replace(f, where=[*f.where, f.join[0].order_id.between(first, last), Order.id.between(first, last)])
        for f in joined
    ]


def _durations(name: str, n: int, total: int, p50: Any, p90: Any) -> Counts:
    if not n:
        return {f"{stat}_minutes_to_{name}": None for stat in ("mean", "p50", "p90")}
    return {
        f"mean_minutes_to_{name}": float(total) / n / 60_000,
        f"p50_minutes_to_{name}": float(p50) / 60_000,
        f"p90_minutes_to_{name}": float(p90) / 60_000,
    }


def _repeats_in_sql(session: Session, key: Any, start: datetime, end: datetime) -> dict[Key, Counts]:
    earlier = aliased(Call)
    at, earlier_at = ms_since(Call.started_at, start), ms_since(earlier.started_at, start)
    # The bounds on the earlier call's own time let PostgreSQL hash the window's calls once.
    called_before = (
        select(earlier.id)
        .where(
            earlier.caller == Call.caller,
            earlier.direction == CallDirection.INBOUND,
            earlier.started_at >= start - REPEAT_LOOKBACK,
            earlier.started_at < end,
            # Implied by the two below (rounding moves an instant by at most 0.5 ms), and
            # cheap: most calls from the same number fail them before any rounding is done.
            earlier.started_at < Call.started_at,
            earlier.started_at >= Call.started_at - literal(REPEAT_LOOKBACK, Interval()),
            earlier_at < at,
            earlier_at >= at - REPEAT_WINDOW_MS,
        )
        .exists()
    )
    facts = _call_facts(key, start, end)
    group = key if key is not None else literal(None)
    stmt = select(group, func.count()).where(*facts.where, Call.caller != "", called_before)
    if key is not None:
        stmt = stmt.group_by(key)
    return {k: {"calls_repeat": n} for k, n in session.execute(stmt)}


# --- counting in numpy (SQLite) -----------------------------------------------------------------


def _codes(keys: np.ndarray | None, rows: int) -> tuple[np.ndarray, list[Key]]:
    """Each row's group as 0, 1, 2…, and the group keys in that order."""
    if keys is None:
        return np.zeros(rows, dtype=np.int64), [None]
    found, codes = np.unique(keys, return_inverse=True)
    return codes, [None if k == MISSING else int(k) for k in found]


def _bits(conditions: dict[str, Any]) -> Any:
    """The conditions as one small integer, a bit each."""
    return sum((case((c, 1 << i), else_=0) for i, c in enumerate(conditions.values())), literal(0))


def _count_collected(session: Session, facts: _Facts) -> dict[Key, Counts]:
    """The facts as one small integer per row (a bit each), the totals and the timestamps, whole."""
    columns = [_bits(facts.counts), *facts.totals.values()]
    if facts.ends:
        columns += [facts.since, *facts.ends.values()]
    if facts.key is not None:
        columns.append(facts.key)
    arrays = [
        unpack(v) for v in session.execute(in_one_piece(facts.select(*(collect(c) for c in columns)))).one()
    ]
    if not len(arrays[0]):
        return {}
    codes, groups = _codes(arrays[-1] if facts.key is not None else None, len(arrays[0]))
    sums = {name: (arrays[0] >> i) & 1 for i, name in enumerate(facts.counts)}
    sums |= dict(zip(facts.totals, arrays[1 : 1 + len(facts.totals)], strict=False))
    tallies = _tally(codes, groups, facts.count_name, sums)
    if facts.ends:
        since, *ends = arrays[1 + len(facts.totals) : 2 + len(facts.totals) + len(facts.ends)]
        for name, end in zip(facts.ends, ends, strict=True):
            present = end != MISSING
            for g, stats in enumerate(_spread(codes[present], len(groups), end[present] - since[present])):
                tallies[groups[g]] |= _durations(name, *stats)
    return tallies


def _tally(
    codes: np.ndarray, groups: list[Key], count_name: str, sums: dict[str, np.ndarray]
) -> dict[Key, Counts]:
    if len(groups) == 1:  # one group (a whole period): plain sums cost a fraction of bincount's
        return {groups[0]: {count_name: len(codes)} | {name: int(np.sum(v)) for name, v in sums.items()}}
    count = np.bincount(codes, minlength=len(groups))
    # Small integers: the float64 sums are exact.
    totals = {
        name: np.bincount(codes, weights=values, minlength=len(groups)) for name, values in sums.items()
    }
    return {
        k: {count_name: int(count[g])} | {name: int(t[g]) for name, t in totals.items()}
        for g, k in enumerate(groups)
    }


def _spread(codes: np.ndarray, groups: int, ms: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Per group (count, sum, nearest-rank p50, nearest-rank p90) of durations in whole ms."""
    # One sort of group·2^41 + duration orders by group, then duration: durations are whole ms
    # below 2^40 (35 years), and one integer sort is several times faster than np.lexsort.
    packed = np.sort(codes * (1 << 41) + (ms + (1 << 40)))
    group, values = packed >> 41, (packed & ((1 << 41) - 1)) - (1 << 40)
    counts = np.bincount(group, minlength=groups)
    ends = np.cumsum(counts)
    out = []
    for g in range(groups):
        n = int(counts[g])
        rank = (9 * n + 9) // 10  # ceil(0.9 n) in integers: 0.9 * n is not exact in binary
        first = int(ends[g]) - n
        if not n:
            out.append((0, 0, 0, 0))
            continue
        median = int(values[first + (n + 1) // 2 - 1])  # rank ceil(n / 2)
        out.append((n, int(values[first : first + n].sum()), median, int(values[first + rank - 1])))
    return out


def _collect_calls(session: Session, key: Any, start: datetime, end: datetime) -> dict[Key, Counts]:
    """Call counts, and repeats found by sorting the calls by number and time: a window function
    (lag over each caller's calls) or a probe per call into the caller index costs several times
    more on SQLite. The calls of the day before the period are fetched too, only for repeats."""
    facts = _call_facts(key, start, end)
    inside = 1 << len(facts.counts)
    bits = _bits(facts.counts) + case((Call.started_at >= start, inside), else_=0)
    columns = [collect(bits), collect(ms_since(Call.started_at, start)), collect_text(Call.caller)]
    if key is not None:
        columns.append(collect(key))
    window = [
        Call.direction == CallDirection.INBOUND,
        Call.started_at >= start - REPEAT_LOOKBACK,
        Call.started_at < end,
    ]
    packed, started, callers, *keys = session.execute(in_one_piece(select(*columns).where(*window))).one()
    flags = unpack(packed)
    if not len(flags):
        return {}
    numbers: dict[str, int] = {}
    caller = np.array([numbers.setdefault(c, len(numbers)) for c in unpack_text(callers)], dtype=np.int64)
    repeat = _repeated(caller, unpack(started)) & (caller != numbers.get("", -1))
    mine = (flags & inside) > 0
    codes, groups = _codes(unpack(keys[0])[mine] if keys else None, int(mine.sum()))
    sums = {name: (flags[mine] >> i) & 1 for i, name in enumerate(facts.counts)}
    return _tally(codes, groups, facts.count_name, sums | {"calls_repeat": repeat[mine]})


def _repeated(caller: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whether another call from the same number started earlier, at most the window before."""
    order = _by_number_then_time(caller, at)
    number, time = caller[order], at[order]
    first_of_tie = np.ones(len(order), dtype=bool)
    first_of_tie[1:] = (number[1:] != number[:-1]) | (time[1:] != time[:-1])
    # The call just before each run of calls from one number at one millisecond.
    before = np.maximum.accumulate(np.where(first_of_tie, np.arange(len(order)), 0)) - 1
    found = (before >= 0) & (number[before] == number) & (time - time[before] <= REPEAT_WINDOW_MS)
    repeat = np.zeros(len(order), dtype=bool)
    repeat[order] = found
    return repeat


def _by_number_then_time(caller: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The order of the calls by number, then time: ``np.lexsort((at, caller))``, at a third of
    its cost. Numbers take up to 57 bits, so number and time do not fit one integer, but each
    number's run of calls does: a sort by number groups the runs, then one integer sort of
    run·2^33 + time (ms since the earliest, below 2^33 for 99 days) orders them."""
    by_number = np.argsort(caller)
    number = caller[by_number]
    run = np.zeros(len(number), dtype=np.int64)
    np.cumsum(number[1:] != number[:-1], out=run[1:])
    since = at[by_number] - (at.min() if len(at) else 0)
    if len(at) and since.max() >= 1 << 33:
        return np.lexsort((at, caller))
    return by_number[np.argsort((run << 33) | since)]


# --- counting the fact rows (both databases) ----------------------------------------------------


_FACT_KEYS = {
    GroupBy.CATEGORY: "category_id",
    GroupBy.ITEM: "item_id",
    GroupBy.COMMUNITY: "community_id",
    GroupBy.PROVIDER: "provider_id",
}


def _fact_fields(group_by: GroupBy | None) -> tuple[Any, np.dtype]:
    """The bytes of each packed order fact row wanted for a grouping, and their record type:
    the numbers and flags, then the one group key needed (if any)."""
    packed = facts.ORDER_PACKED
    core = packed.fields["category_id"][1]  # the numbers and flags come first
    names = [n for n in packed.names if n not in facts.ORDER_KEYS]
    column: Any = func.substr(OrderFact.packed, 1, core)
    name = _FACT_KEYS.get(group_by)  # type: ignore[arg-type]
    if name is not None:
        names.append(name)
        column = column.op("||", return_type=LargeBinary())(
            func.substr(OrderFact.packed, 1 + packed.fields[name][1], 4)
        )
    return column, np.dtype([(n, packed.fields[n][0]) for n in names])


def _count_facts(
    session: Session,
    group_by: GroupBy | None,
    calendar: Calendar | None,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    satisfied_min_stars: int,
    complaint_max_stars: int | None,
) -> dict[Key, Counts]:
    """The order, offer and rating metrics from the period's ``order_fact`` rows (see
    ``dispatch.facts``): their packed bytes handed over in one blob, counted in numpy."""
    column, dtype = _fact_fields(group_by)
    stmt = select(collect_blob(column)).where(
        OrderFact.created_us >= us_since_epoch(start), OrderFact.created_us < us_since_epoch(end)
    )
    rows = unpack_blob(session.execute(in_one_piece(stmt)).scalar(), dtype)
    if not len(rows):
        return {}
    flags, offers, ratings, created = rows["flags"], rows["offers"], rows["ratings"], rows["created_us"]
    name = _FACT_KEYS.get(group_by)  # type: ignore[arg-type]
    keys: np.ndarray | None = None
    if calendar is not None:
        keys = calendar.group_of(local_day_numbers(created, zone, start, end))
    elif name is not None:
        keys = rows[name].astype(np.int64)
        keys[keys == facts.MISSING_KEY] = MISSING
    codes, groups = _codes(keys, len(rows))
    sums = {
        name: (flags & bit) > 0
        for name, bit in (
            ("received", facts.PRIMARY),
            ("cancelled", facts.CANCELLED),
            ("completed", facts.COMPLETED),
            ("completed_on_time", facts.ON_TIME),
            ("reopened", facts.REOPENED),
        )
    }
    field = facts.FIELD_MAX
    sums |= {name: (offers >> (facts.FIELD_BITS * i)) & field for i, name in enumerate(facts.OFFER_FIELDS)}
    stars = {k: (ratings >> (facts.FIELD_BITS * i)) & field for i, k in enumerate(facts.STARS)}
    sums["ratings"] = sum(stars.values())
    sums["ratings_satisfied"] = sum(n for k, n in stars.items() if k >= satisfied_min_stars) + 0 * flags
    sums["stars"] = sum(k * n for k, n in stars.items())
    if complaint_max_stars is not None:
        sums["complaints"] = sum(n for k, n in stars.items() if k <= complaint_max_stars) + 0 * flags
    tallies = _tally(codes, groups, "rows", sums)
    since = ms_since_us(created, start)
    for name, end_field in (
        ("accept", "accepted_us"),
        ("arrive", "arrived_us"),
        ("complete", "completed_us"),
    ):
        end_us = rows[end_field]
        present = end_us != facts.MISSING
        took = ms_since_us(end_us[present], start) - since[present]
        for g, stats in enumerate(_spread(codes[present], len(groups), took)):
            tallies[groups[g]] |= _durations(name, *stats)
    return tallies


def _count_call_facts(
    session: Session, calendar: Calendar | None, zone: ZoneInfo, start: datetime, end: datetime
) -> dict[Key, Counts]:
    """Call metrics from the ``call_fact`` rows of the period and of the day before (for
    repeats): caller numbers are integers (``facts.caller_code``), so finding repeats is a sort
    of integers; the rare number that is not digits is read as text and numbered here."""
    first, last = us_since_epoch(start), us_since_epoch(end)
    stmt = select(collect_blob(CallFact.packed)).where(
        CallFact.started_us >= us_since_epoch(start - REPEAT_LOOKBACK), CallFact.started_us < last
    )
    rows = unpack_blob(session.execute(in_one_piece(stmt)).scalar(), facts.CALL_PACKED)
    if not len(rows):
        return {}
    started, caller, flags = rows["started_us"], rows["caller"].copy(), rows["flags"]
    text = caller == facts.TEXT_NUMBER
    if text.any():
        ids = rows["call_id"][text]
        numbers = dict(session.execute(select(Call.id, Call.caller).where(Call.id.in_(ids.tolist()))).all())
        named: dict[str, int] = {}
        caller[text] = [-2 - named.setdefault(numbers[int(i)], len(named)) for i in ids]
    repeat = _repeated(caller, ms_since_us(started, start)) & (caller != facts.NO_NUMBER)
    mine = started >= first
    keys = None
    if calendar is not None:
        keys = calendar.group_of(local_day_numbers(started[mine], zone, start, end))
    codes, groups = _codes(keys, int(mine.sum()))
    wait = rows["wait_us"][mine]
    answered = (flags[mine] & facts.ANSWERED) > 0
    waited = np.where(
        wait != facts.MISSING, ms_since_us(started[mine] + wait, start) - ms_since_us(started[mine], start), 0
    )
    sums = {
        "calls_answered": answered,
        "calls_answered_15s": answered & (wait != facts.MISSING) & (waited <= ANSWER_LIMIT_MS),
        "calls_abandoned": (flags[mine] & facts.ABANDONED) > 0,
        "calls_repeat": repeat[mine],
    }
    return _tally(codes, groups, "calls_inbound", sums)


# --- assembling ---------------------------------------------------------------------------------


def _labels(session: Session, group_by: GroupBy, ids: set[Key]) -> dict[Key, tuple[Key, str | None]]:
    """{group id: (public key, label)}: category/item keys are their codes, as elsewhere in the API."""
    wanted = [i for i in ids if i is not None]
    found: dict[Key, tuple[Key, str | None]] = {None: (None, None)}
    if wanted and group_by in (GroupBy.CATEGORY, GroupBy.ITEM):
        model = Category if group_by == GroupBy.CATEGORY else Item
        rows = session.execute(select(model.id, model.code, model.name_zh).where(model.id.in_(wanted)))
        found |= {i: (code, name) for i, code, name in rows}
    elif wanted:
        named = Provider if group_by == GroupBy.PROVIDER else Area
        rows = session.execute(select(named.id, named.name).where(named.id.in_(wanted)))
        found |= {i: (i, name) for i, name in rows}
    return found


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _metrics(c: Counts, with_calls: bool, with_complaints: bool) -> dict[str, Metric]:
    c = {"stars": 0} | c
    out: dict[str, Metric] = {name: c.get(name, 0) for name in ORDER_METRICS + CALL_METRICS}
    out |= {
        "closure_rate": _rate(out["completed"], out["received"] - out["cancelled"]),
        "on_time_rate": _rate(out["completed_on_time"], out["completed"]),
        "reopen_rate": _rate(out["reopened"], out["completed"]),
        "sign_on_time_rate": _rate(out["offers_accepted_on_time"], out["offers_made"]),
        "return_rate": _rate(out["offers_returned"], out["offers"]),
        "satisfaction_rate": _rate(out["ratings_satisfied"], out["ratings"]),
        "avg_rating": _rate(c["stars"], out["ratings"]),
        "answer_rate": _rate(out["calls_answered"], out["calls_inbound"]),
        "answered_15s_rate": _rate(out["calls_answered_15s"], out["calls_answered"]),
        "abandon_rate": _rate(out["calls_abandoned"], out["calls_inbound"]),
        "repeat_call_rate": _rate(out["calls_repeat"], out["calls_inbound"]),
        "callback_on_time_rate": _rate(out["callbacks_called_on_time"], out["callbacks"]),
    }
    for name in ORDER_METRICS:
        if "_minutes_to_" in name:
            out[name] = c.get(name)
    if not with_calls:
        for name in CALL_METRICS:
            del out[name]
    if with_complaints:
        out["complaints"] = c.get("complaints", 0)
    return out


def summarise(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    group_by: GroupBy | None = None,
    timezone: str = "Asia/Shanghai",
    satisfied_min_stars: int = 4,
    in_sql: bool | None = None,
    from_facts: bool = True,
    complaint_max_stars: int | None = None,
) -> Summary:
    """All metrics for orders created (calls started) in [start, end); see the module docstring.

    Order, offer and rating metrics come from the fact rows (``from_facts``, the default), or
    straight from the orders, offers and ratings: the independent computation the tests hold the
    facts to. ``in_sql``: count calls (and, not from facts, orders) in SQL (PostgreSQL only) or in
    numpy; by default whichever is faster on the session's database. ``complaint_max_stars``:
    also count ``complaints``, the ratings of at most that many stars (the league's 差评).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if start >= end:
        raise ValueError("start must be before end")
    postgres = session.get_bind().dialect.name == "postgresql"
    if in_sql is None:
        in_sql = postgres
    elif in_sql and not postgres:
        raise ValueError("counting in SQL needs PostgreSQL (percentile_disc)")
    zone = ZoneInfo(timezone)
    calendar = Calendar.of(group_by, start, end, zone) if group_by in CALENDAR else None

    def day(column: Any) -> Any:
        number = local_day(column, zone, start, end)
        return calendar.group_sql(number) if calendar is not None else number

    period = and_(Order.created_at >= start, Order.created_at < end)
    orders, offers, ratings = _order_facts(
        _keys(group_by, day), period, start, satisfied_min_stars, complaint_max_stars
    )
    if from_facts:
        facts.sync(session)  # this transaction's own changes too
        sources = [
            _count_facts(
                session, group_by, calendar, zone, start, end, satisfied_min_stars, complaint_max_stars
            )
        ]
    elif in_sql:
        sources = [_count_in_sql(session, orders)]
        sources += [_count_in_sql(session, f) for f in _within_ids(sources[0], offers, ratings)]
    else:
        sources = [_count_collected(session, f) for f in (orders, offers, ratings)]
    with_calls = group_by is None or calendar is not None
    if with_calls:
        call_key = day(Call.started_at) if calendar is not None else None
        callback_facts = _callback_facts(
            day(Callback.created_at) if calendar is not None else None, start, end
        )
        if from_facts:
            sources.append(_count_call_facts(session, calendar, zone, start, end))
            sources.append(_count_collected(session, callback_facts))
        elif in_sql:
            sources += [_count_in_sql(session, _call_facts(call_key, start, end))]
            sources += [_repeats_in_sql(session, call_key, start, end)]
            sources += [_count_in_sql(session, callback_facts)]
        else:
            sources.append(_collect_calls(session, call_key, start, end))
            sources.append(_count_collected(session, callback_facts))
    ids: set[Key] = {None} if group_by is None else set().union(*sources)

    def metrics(i: Key) -> dict[str, Metric]:
        merged: Counts = {}
        for source in sources:
            merged |= source.get(i, {})
        return _metrics(merged, with_calls, complaint_max_stars is not None)

    if group_by is None:
        groups = [Group(None, None, metrics(None))]
    elif calendar is not None:  # days, weeks, months without orders or calls show as zeros
        groups = [Group(key, label, metrics(n)) for n, key, label in calendar.groups()]
    else:
        labels = _labels(session, group_by, ids)
        # A group whose row has gone since (an item deleted) keeps its id as the key.
        groups = sorted((Group(*labels.get(i, (i, None)), metrics(i)) for i in ids), key=_group_order)
    return Summary(start, end, group_by, satisfied_min_stars, groups)


def _group_order(group: Group) -> tuple[bool, bool, int, str]:
    """Ids ascending, codes alphabetically, the "no provider/community" group last."""
    k = group.key
    return (k is None, isinstance(k, str), k if isinstance(k, int) else 0, k if isinstance(k, str) else "")
