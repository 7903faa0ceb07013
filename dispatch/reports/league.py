"""The star evaluation (星级评价) and league table of providers for a month or a quarter.

Every figure comes from :func:`dispatch.reports.kpis.summarise` grouped by provider, for the
orders created in the period (local time): an order counts for the provider that holds it now,
an offer for the provider it was made to, a rating for the provider rated. A worker's row is its
own group. An organisation's row adds up its own group and those of its workers (an order a
worker holds is the organisation's work too): the counts are summed and the rates worked out
again from the sums, as ``summarise`` works them out for one group.

- ``complaints`` (差评投诉): ratings of at most ``[evaluation] complaint_max_stars`` (2: 不满意 and
  非常不满意), counted like the ratings behind ``satisfaction_rate``. The code base keeps no other
  record of complaints: a resident's dissatisfaction is what the rating callback records.
- ``star_level`` (1.0–5.0, one decimal) = 1 + 4 × score, where score is the weighted mean of
  satisfaction_rate (40 %), on_time_rate (20 %), closure_rate (20 %) and 1 − return_rate (20 %).
  A rate that is null (nothing to count) is left out and the other weights count in proportion;
  with no rate at all the star level is null, and so it is when 1 − return_rate is all there is and
  nothing was returned (only offers still pending or withdrawn: no work to judge, so no 5 stars).
- ``below_floor_periods``: consecutive periods, ending with this one, whose star level was below
  ``[evaluation] floor_stars``, looking back at most ``max(warning_after_periods, 2)`` periods
  (enough to decide the warning); a period without a star level ends the run.
  ``elimination_warning`` (淘汰预警) when it reaches ``warning_after_periods``.
- The table lists every provider of the kind that holds or was offered an order of the period;
  ranked by star level, then satisfaction, closure and on-time rate (equal figures share a rank).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import InvalidValue
from dispatch.reports.kpis import GroupBy, summarise
from dispatch.settings import Settings
from models import Provider, ProviderKind, ProviderStatus

# The counts a row is made of (summarise's names), summed for an organisation.
COUNTS = (
    *("received", "cancelled", "completed", "completed_on_time", "reopened"),
    *("offers", "offers_made", "offers_accepted", "offers_accepted_on_time", "offers_returned"),
    *("ratings", "ratings_satisfied", "stars", "complaints"),
)
# What the table shows of each provider, and of the district (``averages``).
METRICS = (
    *("orders", "completed", "closure_rate", "on_time_rate", "sign_on_time_rate", "offers", "returns"),
    *("return_rate", "reopen_rate", "satisfaction_rate", "avg_rating", "ratings", "complaints"),
    "star_level",
)
AVERAGED_COUNTS = ("orders", "completed", "offers", "returns", "ratings", "complaints")
# The star formula: each rate's weight (return_rate counts as 1 − return_rate).
STAR_WEIGHTS = {"satisfaction_rate": 0.4, "on_time_rate": 0.2, "closure_rate": 0.2, "return_rate": 0.2}
_PERIOD = re.compile(r"^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$")


@dataclass(frozen=True)
class Period:
    """A calendar month (``2026-11``) or quarter (``2026-Q4``) in local time."""

    year: int
    month: int  # the first month
    months: int  # 1 or 3

    @classmethod
    def parse(cls, text: str) -> Period:
        found = _PERIOD.match(text)
        if found is None:
            raise InvalidValue(
                f"period: {text!r} is neither YYYY-MM nor YYYY-Qn",
                message="统计月份：格式应为 YYYY-MM（月）或 YYYY-Qn（季度），如 2026-11、2026-Q4",
            )
        year, month, quarter = found.groups()
        if quarter is not None:
            return cls(int(year), 3 * int(quarter) - 2, 3)
        return cls(int(year), int(month), 1)

    @property
    def label(self) -> str:
        if self.months == 3:
            return f"{self.year}-Q{(self.month + 2) // 3}"
        return f"{self.year}-{self.month:02d}"

    def _shifted(self, months: int) -> date:
        n = self.year * 12 + self.month - 1 + months
        return date(n // 12, n % 12 + 1, 1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        first, after = self._shifted(0), self._shifted(self.months)
        return (
            datetime(first.year, first.month, 1, tzinfo=zone),
            datetime(after.year, after.month, 1, tzinfo=zone),
        )

    def previous(self) -> Period:
        first = self._shifted(-self.months)
        return Period(first.year, first.month, self.months)


@dataclass(frozen=True)
class Rules:
    floor: float
    warning_after_periods: int
    complaint_max_stars: int
    satisfied_min_stars: int
    timezone: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules ``[evaluation]``, ``[tracking] satisfied_min_stars`` and ``[locale] timezone`` set."""
        return cls(
            floor=settings.evaluation.floor_stars,
            warning_after_periods=settings.evaluation.warning_after_periods,
            complaint_max_stars=settings.evaluation.complaint_max_stars,
            satisfied_min_stars=settings.tracking.satisfied_min_stars,
            timezone=settings.locale.timezone,
        )


@dataclass
class Tally:
    """One row's counts (one provider, or an organisation and its workers summed)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    groups: int = 0

    def add(self, counts: dict[str, int]) -> None:
        for name in COUNTS:
            self.counts[name] += counts.get(name, 0)
        self.groups += 1

    def merge(self, other: Tally) -> None:
        for name in COUNTS:
            self.counts[name] += other.counts[name]
        self.groups += other.groups

    def metrics(self) -> dict[str, Any]:
        c = self.counts

        def rate(part: int, whole: int) -> float | None:
            return part / whole if whole else None

        # DESIGN.md: accepted within the limit ÷ offers made (accepted, declined or expired).
        sign_on_time = rate(c["offers_accepted_on_time"], c["offers_made"])
        out: dict[str, Any] = {
            "orders": c["received"],
            "completed": c["completed"],
            "closure_rate": rate(c["completed"], c["received"] - c["cancelled"]),
            "on_time_rate": rate(c["completed_on_time"], c["completed"]),
            "sign_on_time_rate": sign_on_time,
            "offers": c["offers"],
            "returns": c["offers_returned"],
            "return_rate": rate(c["offers_returned"], c["offers"]),
            "reopen_rate": rate(c["reopened"], c["completed"]),
            "satisfaction_rate": rate(c["ratings_satisfied"], c["ratings"]),
            "avg_rating": rate(c["stars"], c["ratings"]),
            "ratings": c["ratings"],
            "complaints": c["complaints"],
        }
        return out | {"star_level": star_level(out)}


def star_level(rates: dict[str, Any]) -> float | None:
    """1 + 4 × the weighted mean of the rates there are (see the module docstring), one decimal."""
    weighted = total = 0.0
    for name, weight in STAR_WEIGHTS.items():
        value = rates.get(name)
        if value is None:
            continue
        weighted += weight * (1 - value if name == "return_rate" else value)
        total += weight
    if not total:
        return None
    if total == STAR_WEIGHTS["return_rate"] and not rates.get("return_rate"):
        return None  # offers only, none returned (pending, withdrawn): nothing done to judge yet
    return round(1 + 4 * weighted / total, 1)


@dataclass(frozen=True)
class Member:
    id: int
    kind: ProviderKind
    name: str
    organisation_id: int | None
    suspended: bool


def _members(session: Session) -> dict[int, Member]:
    rows = session.execute(
        select(Provider.id, Provider.kind, Provider.name, Provider.organisation_id, Provider.status)
    )
    return {
        i: Member(i, kind, name, org, status == ProviderStatus.SUSPENDED)
        for i, kind, name, org, status in rows
    }


def _row_of(member: Member, kind: ProviderKind) -> int | None:
    """The table row a provider's figures go to: itself, or (organisations) its organisation."""
    if member.kind == kind:
        return member.id
    if kind == ProviderKind.ORGANISATION and member.organisation_id is not None:
        return member.organisation_id
    return None


def tallies(
    session: Session, period: Period, kind: ProviderKind, rules: Rules, members: dict[int, Member]
) -> dict[int, Tally]:
    """{row provider id: its tally} for the providers of ``kind`` with orders or offers in the period."""
    start, end = period.bounds(ZoneInfo(rules.timezone))
    summary = summarise(
        session,
        start=start,
        end=end,
        group_by=GroupBy.PROVIDER,
        timezone=rules.timezone,
        satisfied_min_stars=rules.satisfied_min_stars,
        complaint_max_stars=rules.complaint_max_stars,
    )
    rows: dict[int, Tally] = {}
    for group in summary.groups:
        member = members.get(group.key) if isinstance(group.key, int) else None
        row = _row_of(member, kind) if member is not None else None
        if row is None:
            continue
        m = group.metrics
        counts = {name: int(m[name] or 0) for name in COUNTS if name in m}
        # avg_rating × ratings is a sum of whole stars: rounding only undoes the division.
        counts["stars"] = round((m["avg_rating"] or 0) * (m["ratings"] or 0))
        counts["complaints"] = m["complaints"]
        rows.setdefault(row, Tally()).add(counts)
    return {i: t for i, t in rows.items() if t.counts["received"] or t.counts["offers"]}


def _rank_key(row: dict[str, Any]) -> tuple[float, ...]:
    """Higher is better; a missing figure ranks below every figure."""
    return tuple(
        -1.0 if row[name] is None else row[name]
        for name in ("star_level", "satisfaction_rate", "closure_rate", "on_time_rate")
    )


def _averages(rows: Iterable[Tally], star_levels: list[float]) -> dict[str, Any]:
    """District figures: rates over every listed provider's orders together; counts and star
    level as the mean per listed provider."""
    rows = list(rows)
    pooled = Tally()
    for t in rows:
        pooled.merge(t)
    pooled.groups = max(pooled.groups, 2)  # never one group's own sign-on figure
    figures = pooled.metrics() if rows else {name: None for name in METRICS}
    for name in AVERAGED_COUNTS:
        figures[name] = round(figures[name] / len(rows), 1) if rows else None
    figures["star_level"] = round(sum(star_levels) / len(star_levels), 1) if star_levels else None
    return figures | {"providers": len(rows)}


@dataclass(frozen=True)
class League:
    period: Period
    kind: ProviderKind
    start: datetime
    end: datetime
    items: list[dict[str, Any]]
    averages: dict[str, Any]


def league(session: Session, *, period: Period, kind: ProviderKind, rules: Rules) -> League:
    """The whole table for the district, ranked (the API narrows it for organisation admins)."""
    members = _members(session)
    current = tallies(session, period, kind, rules, members)
    lookback = max(rules.warning_after_periods, 2)
    history: list[dict[int, float | None]] = []  # star levels, this period first
    earlier = period
    for n in range(lookback):
        found = current if n == 0 else tallies(session, earlier, kind, rules, members)
        history.append({i: t.metrics()["star_level"] for i, t in found.items()})
        earlier = earlier.previous()

    items = []
    for i, tally in current.items():
        member = members[i]
        figures = tally.metrics()
        below = 0
        for levels in history:
            level = levels.get(i)
            if level is None or level >= rules.floor:
                break
            below += 1
        previous = history[1].get(i)
        now = figures["star_level"]
        org = members.get(member.organisation_id) if member.organisation_id is not None else None
        items.append(
            {
                "provider_id": i,
                "name": member.name,
                "kind": member.kind.value,
                "organisation_id": org.id if org else None,
                "organisation_name": org.name if org else None,
            }
            | figures
            | {
                "star_level_previous": previous,
                "star_change": round(now - previous, 1) if now is not None and previous is not None else None,
                "below_floor_periods": below,
                "elimination_warning": below >= rules.warning_after_periods,
                "suspended": member.suspended,
            }
        )
    items.sort(key=lambda r: (tuple(-v for v in _rank_key(r)), -r["orders"], r["name"], r["provider_id"]))
    for n, row in enumerate(items):
        tied = n and _rank_key(row) == _rank_key(items[n - 1])
        row["rank"] = items[n - 1]["rank"] if tied else n + 1
    levels = [r["star_level"] for r in items if r["star_level"] is not None]
    start, end = period.bounds(ZoneInfo(rules.timezone))
    return League(period, kind, start, end, items, _averages(current.values(), levels))
