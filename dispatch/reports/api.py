"""Supervisor KPIs over HTTP: ``GET /api/v1/stats/summary`` and the same as CSV (``export.csv``)
and as an Excel workbook (``export.xlsx``).

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
from dispatch.downloads import CSV_RESPONSES, LayoutParam, csv_response, xlsx_response
from dispatch.errors import BadRequest
from dispatch.inputs import AwareTime
from dispatch.reports.kpis import GroupBy, Summary, summarise
from dispatch.reports.xlsx import XLSX_RESPONSES, Column, Sheet, csv_text, metric_column
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


# The sheets of export.xlsx without group_by, and every grouping's sheet title and key column.
SHEETS: tuple[GroupBy | None, ...] = (
    None,
    GroupBy.CATEGORY,
    GroupBy.COMMUNITY,
    GroupBy.PROVIDER,
    GroupBy.DAY,
)
GROUP_TITLES = {
    "category": ("按类别", "类别编码", "类别"),
    "item": ("按服务项目", "项目编码", "服务项目"),
    "provider": ("按服务方", "服务方编号", "服务方"),
    "community": ("按社区", "社区编号", "社区"),
    "day": ("按日", "日期", "日期"),
    "week": ("按周", "周一日期", "周"),
    "month": ("按月", "月份", "月份"),
}
NOBODY = "（无）"  # the group of orders with no provider or community


def _columns(summary: Summary) -> list[Column]:
    """A sheet's columns: the period (overall) or the group's key and name, then every metric."""
    if summary.group_by is None:
        head = [Column("统计开始", "datetime"), Column("统计结束", "datetime")]
    else:
        _, key_title, label_title = GROUP_TITLES.get(
            summary.group_by.value, (summary.group_by, "编码", "名称")
        )
        dated = summary.group_by.value in ("day", "week")
        numbered = summary.group_by in (GroupBy.PROVIDER, GroupBy.COMMUNITY)
        key_kind = "date" if dated else "count" if numbered else "text"
        head = [Column(key_title, key_kind, 12), Column(label_title, "text", 18)]
    return head + [metric_column(name) for name in summary.metric_names]


def _rows(summary: Summary, zone: ZoneInfo) -> list[list[Any]]:
    metrics = [[g.metrics[name] for name in summary.metric_names] for g in summary.groups]
    if summary.group_by is None:
        return [[summary.start.astimezone(zone), summary.end.astimezone(zone), *metrics[0]]]
    return [
        [g.key, g.label if g.label is not None else NOBODY, *cells]
        for g, cells in zip(summary.groups, metrics, strict=True)
    ]


def _sheet(summary: Summary, zone: ZoneInfo) -> Sheet:
    group = summary.group_by.value if summary.group_by else None
    title = GROUP_TITLES.get(group, (group,))[0] if group else "总体"
    return Sheet(title, _columns(summary), _rows(summary, zone))


@router.get("/export.csv", response_class=Response, responses=CSV_RESPONSES)
def stats_export(
    ctx: Ctx,
    db: Db,
    _user: Reader,
    from_: FromParam = None,
    to: ToParam = None,
    group_by: GroupParam = None,
    layout: LayoutParam = "zh",
) -> Response:
    """The same figures as ``/summary``, one row per group (or one row), for Excel.

    ``layout=zh`` (the default, for people): Chinese headers, rates as percentages with one
    decimal (``86.4%``), minutes to a tenth, the average rating to a hundredth.
    ``layout=raw`` (for scripts): the metric names as headers and exact values.
    """
    summary = _summary(ctx, db, from_, to, group_by)
    period = _period(summary, ctx.settings.locale.timezone)
    out = io.StringIO()
    writer = SafeWriter(out)  # a provider's or community's name may start with "="
    if layout == "zh":
        sheet = _sheet(summary, ctx.tz)
        writer.writerow([c.title for c in sheet.columns])
        for row in sheet.rows:
            writer.writerow([csv_text(v, c) for v, c in zip(row, sheet.columns, strict=True)])
    else:
        writer.writerow(["from", "to", "group_by", "key", "label", *summary.metric_names])
        for g in summary.groups:
            cells = [g.metrics[name] for name in summary.metric_names]
            writer.writerow(
                [period["from"], period["to"], group_by or "", g.key, g.label, *cells]  # None → empty cell
            )
    return csv_response(out.getvalue(), _filename(period, group_by, "csv"))


def _filename(period: dict[str, str], group_by: GroupBy | None, ext: str) -> str:
    days = "-".join(period[k][:10].replace("-", "") for k in ("from", "to"))
    return f"sanshe-stats-{group_by or 'overall'}-{days}.{ext}"


@router.get("/export.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def stats_export_xlsx(
    ctx: Ctx, db: Db, _user: Reader, from_: FromParam = None, to: ToParam = None, group_by: GroupParam = None
) -> Response:
    """The figures of ``/summary`` as an Excel workbook: the one grouping asked for, or (no
    ``group_by``) a sheet each: 总体, 按类别, 按社区, 按服务方 and 按日 (按日 only for periods of
    at most 1000 days). Chinese headers, rates as percentages, minutes rounded, header row frozen.
    """
    first = _summary(ctx, db, from_, to, group_by)
    summaries = [first]
    if group_by is None:
        long = first.end - first.start > timedelta(days=MAX_DAY_GROUPS)
        wanted = [g for g in SHEETS[1:] if not (g == GroupBy.DAY and long)]
        summaries += [_summary(ctx, db, first.start, first.end, g) for g in wanted]
    period = _period(first, ctx.settings.locale.timezone)
    return xlsx_response([_sheet(s, ctx.tz) for s in summaries], _filename(period, group_by, "xlsx"))
