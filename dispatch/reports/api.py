"""Supervisor KPIs over HTTP: ``GET /api/v1/stats/summary`` and the same as CSV (``export.csv``).

Admins, supervisors and operators may read them (operators watch the call-centre figures:
answer and abandon rates); organisation admins and workers may not — the figures compare
providers with each other.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest
from dispatch.inputs import AwareTime
from dispatch.reports.kpis import GroupBy, Summary, summarise
from dispatch.spreadsheet import SafeWriter
from models import Role, User

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

Reader = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]
DEFAULT_PERIOD = timedelta(days=30)
MAX_DAY_GROUPS = 1000
MAX_WEEK_GROUPS = 520
MAX_MONTH_YEARS = 20
# The longest period each calendar grouping may cover (one group per day, week, month).
MAX_SPANS = {
    GroupBy.DAY: (
        timedelta(days=MAX_DAY_GROUPS),
        f"{MAX_DAY_GROUPS} days",
        f"按天分组时统计期最长 {MAX_DAY_GROUPS} 天",
    ),
    GroupBy.WEEK: (
        timedelta(weeks=MAX_WEEK_GROUPS),
        f"{MAX_WEEK_GROUPS} weeks",
        f"按周分组时统计期最长 {MAX_WEEK_GROUPS} 周",
    ),
    GroupBy.MONTH: (
        timedelta(days=366 * MAX_MONTH_YEARS),
        f"{MAX_MONTH_YEARS} years",
        f"按月分组时统计期最长 {MAX_MONTH_YEARS} 年",
    ),
}
FromParam = Annotated[
    AwareTime | None,
    Query(
        alias="from",
        description="orders created at or after, ISO 8601 with a time zone (default: 30 days before to)",
    ),
]
ToParam = Annotated[AwareTime | None, Query(description="orders created before (default: now)")]
GroupParam = Annotated[
    GroupBy | None,
    Query(description="one group per category, item, provider, community, day, ISO week or month"),
]


def _summary(
    ctx: Ctx, db: Db, from_: datetime | None, to: datetime | None, group_by: GroupBy | None
) -> Summary:
    end = to or ctx.clock.now()
    start = from_ or end - DEFAULT_PERIOD
    if start >= end:
        raise BadRequest("from: must be before to", code="invalid_period", message="开始时间：须早于结束时间")
    if group_by in MAX_SPANS and end - start > MAX_SPANS[group_by][0]:
        longest, words = MAX_SPANS[group_by][1:]
        raise BadRequest(
            f"to: group_by={group_by.value} covers at most {longest}",
            code="invalid_period",
            message=f"结束时间：{words}",
        )
    return summarise(
        db,
        start=start,
        end=end,
        group_by=group_by,
        timezone=ctx.settings.locale.timezone,
        satisfied_min_stars=ctx.settings.tracking.satisfied_min_stars,
    )


def _period(summary: Summary, timezone: str) -> dict[str, str]:
    zone = ZoneInfo(timezone)
    return {
        "from": summary.start.astimezone(zone).isoformat(),
        "to": summary.end.astimezone(zone).isoformat(),
    }


@router.get("/summary")
def stats_summary(
    ctx: Ctx, db: Db, _user: Reader, from_: FromParam = None, to: ToParam = None, group_by: GroupParam = None
) -> dict[str, Any]:
    """The supervisor metrics (DESIGN.md) for orders created in [from, to); default the last 30 days.

    Without ``group_by``: one object with every metric. With it: ``{"groups": [{"key", "label",
    …metrics}]}``; category/item keys are codes, provider/community keys ids (null: none), day
    keys local dates, week keys the
    date of the week's Monday (label 2026-W47), month keys 2026-11. Call metrics appear overall and
    per day, week or month only. Rates are null when nothing
    was there to count.
    """
    summary = _summary(ctx, db, from_, to, group_by)
    head: dict[str, Any] = _period(summary, ctx.settings.locale.timezone)
    head["satisfied_min_stars"] = summary.satisfied_min_stars
    if group_by is None:
        return head | summary.groups[0].metrics
    groups = [{"key": g.key, "label": g.label} | g.metrics for g in summary.groups]
    return head | {"group_by": group_by.value, "groups": groups}


@router.get("/export.csv", response_class=Response)
def stats_export(
    ctx: Ctx, db: Db, _user: Reader, from_: FromParam = None, to: ToParam = None, group_by: GroupParam = None
) -> Response:
    """The same figures as ``/summary``, one row per group (or one row), for Excel.

    UTF-8 with a byte-order mark: without it Excel reads the file in the local ANSI code page and
    the Chinese names come out garbled.
    """
    summary = _summary(ctx, db, from_, to, group_by)
    period = _period(summary, ctx.settings.locale.timezone)
    out = io.StringIO()
    writer = SafeWriter(out)  # a provider's or community's name may start with "="
    writer.writerow(["from", "to", "group_by", "key", "label", *summary.metric_names])
    for g in summary.groups:
        cells = [g.metrics[name] for name in summary.metric_names]
        writer.writerow(
            [period["from"], period["to"], group_by or "", g.key, g.label, *cells]  # None → empty cell
        )
    days = "-".join(period[k][:10].replace("-", "") for k in ("from", "to"))
    filename = f"sanshe-stats-{group_by or 'overall'}-{days}.csv"
    return Response(
        content=("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
