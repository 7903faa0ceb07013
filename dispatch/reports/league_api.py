"""``GET /api/v1/stats/providers``: the star evaluation and league table (``dispatch.reports.league``).

Admins and supervisors see every row. An organisation admin sees their own organisation's row
(``kind=organisation``) or their own workers (``kind=worker``), with the district's averages,
never another organisation's figures. Operators and workers may not read it.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from dispatch.deps import Ctx, Db, require_roles
from dispatch.downloads import CSV_RESPONSES, LayoutParam, csv_response, xlsx_response
from dispatch.errors import BadRequest, InvalidValue
from dispatch.pagination import Page
from dispatch.reports.league import METRICS, League, Period, Rules, league
from dispatch.reports.xlsx import XLSX_RESPONSES, Column, Sheet, csv_text
from dispatch.spreadsheet import SafeWriter
from models import ProviderKind, Role, User

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])

Reader = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.ORG_ADMIN))]
PeriodParam = Annotated[
    str, Query(max_length=7, description="a month (YYYY-MM) or a quarter (YYYY-Qn), local time")
]
KindParam = Annotated[ProviderKind, Query(description="organisations (with their workers) or workers")]


def league_for(ctx: Ctx, db: Db, period: str, kind: ProviderKind) -> League:
    """The whole table of ``period`` (400 with a Chinese message when it is not a period)."""
    try:
        parsed = Period.parse(period)
    except InvalidValue as exc:
        raise BadRequest(str(exc), code="invalid_period", message=exc.message) from None
    return league(db, period=parsed, kind=kind, rules=Rules.from_settings(ctx.settings))


def visible(table: League, user: User) -> list[dict[str, Any]]:
    """The rows ``user`` may see: all, or an organisation admin's own."""
    if user.role != Role.ORG_ADMIN:
        return table.items
    if user.provider_id is None:
        return []
    if table.kind == ProviderKind.ORGANISATION:
        return [r for r in table.items if r["provider_id"] == user.provider_id]
    return [r for r in table.items if r["organisation_id"] == user.provider_id]


@router.get("/providers")
def providers_league(
    ctx: Ctx,
    db: Db,
    user: Reader,
    page: Page,
    period: PeriodParam,
    kind: KindParam = ProviderKind.ORGANISATION,
) -> dict[str, Any]:
    """The star evaluation (星级评价) of a month or quarter, ranked: every organisation (its own
    and its workers' orders) or worker that held or was offered an order created in the period,
    with its figures, star level and change, 淘汰预警 and suspension; ``averages`` are the
    district's. Definitions: README "Star evaluation and league table"."""
    table = league_for(ctx, db, period, kind)
    rows = visible(table, user)
    zone = ctx.tz
    return {
        "period": table.period.label,
        "kind": table.kind.value,
        "from": table.start.astimezone(zone).isoformat(),
        "to": table.end.astimezone(zone).isoformat(),
        "items": rows[page.offset : page.offset + page.limit],
        "total": len(rows),
        "averages": table.averages,
        "floor": ctx.settings.evaluation.floor_stars,
        "warning_after_periods": ctx.settings.evaluation.warning_after_periods,
    }


COLUMNS = (
    ("rank", Column("排名", "count", 6)),
    ("name", Column("名称", "text", 18)),
    ("organisation_name", Column("所属机构", "text", 18)),
    ("orders", Column("工单数", "count")),
    ("completed", Column("已办结", "count")),
    ("closure_rate", Column("办结率", "rate")),
    ("on_time_rate", Column("按时办结率", "rate")),
    ("sign_on_time_rate", Column("及时签收率", "rate")),
    ("offers", Column("派单次数", "count")),
    ("returns", Column("退单次数", "count")),
    ("return_rate", Column("退单率", "rate")),
    ("reopen_rate", Column("重办率", "rate")),
    ("satisfaction_rate", Column("满意率", "rate")),
    ("avg_rating", Column("平均评价星级", "stars")),
    ("ratings", Column("评价数", "count")),
    ("complaints", Column("差评投诉", "count")),
    ("star_level", Column("星级", "stars")),
    ("star_level_previous", Column("上期星级", "stars")),
    ("star_change", Column("星级变化", "stars")),
    ("below_floor_periods", Column("连续低于底线期数", "count")),
    ("elimination_warning", Column("淘汰预警", "text", 8)),
    ("suspended", Column("已暂停", "text", 8)),
)
AVERAGE_COLUMNS = tuple((key, column) for key, column in COLUMNS if key in METRICS)
KIND_TITLES = {ProviderKind.ORGANISATION: "社会组织", ProviderKind.WORKER: "社工"}


@router.get("/providers.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def providers_league_xlsx(
    ctx: Ctx, db: Db, user: Reader, period: PeriodParam, kind: KindParam = ProviderKind.ORGANISATION
) -> Response:
    """The league table as an Excel workbook: the rows the caller may see (as ``/providers``) and
    a second sheet with the district's averages."""
    table = league_for(ctx, db, period, kind)
    label = table.period.label
    rows = [[r[key] for key, _ in COLUMNS] for r in visible(table, user)]
    averages = [[table.averages[key] for key, _ in AVERAGE_COLUMNS]]
    sheets = [
        Sheet(f"{KIND_TITLES[kind]}星级评价 {label}", [c for _, c in COLUMNS], rows),
        Sheet("全区平均", [c for _, c in AVERAGE_COLUMNS], averages),
    ]
    return xlsx_response(sheets, f"sanshe-league-{kind.value}-{label}.xlsx")


@router.get("/providers.csv", response_class=Response, responses=CSV_RESPONSES)
def providers_league_csv(
    ctx: Ctx,
    db: Db,
    user: Reader,
    period: PeriodParam,
    kind: KindParam = ProviderKind.ORGANISATION,
    layout: LayoutParam = "zh",
) -> Response:
    """The league table as CSV: the rows the caller may see (as ``/providers``). ``layout=zh``
    (the default, for people): the workbook's Chinese headers, rates as ``86.4%``, 是/否, and a
    last row 全区平均 with the district's averages. ``layout=raw`` (for scripts): the API's field
    names and exact values, the rows only (the averages are in ``/providers``)."""
    table = league_for(ctx, db, period, kind)
    rows = visible(table, user)
    out = io.StringIO()
    writer = SafeWriter(out)  # a provider's name may start with "="
    if layout == "zh":
        writer.writerow([c.title for _, c in COLUMNS])
        writer.writerows([csv_text(r[key], c) for key, c in COLUMNS] for r in rows)
        average = {"name": "全区平均"} | {k: table.averages[k] for k, _ in AVERAGE_COLUMNS}
        writer.writerow([csv_text(average.get(key), c) for key, c in COLUMNS])
    else:
        keys = ["provider_id", *(key for key, _ in COLUMNS), "organisation_id"]
        writer.writerow(keys)
        writer.writerows([str(r[k]).lower() if isinstance(r[k], bool) else r[k] for k in keys] for r in rows)
    return csv_response(out.getvalue(), f"sanshe-league-{kind.value}-{table.period.label}.csv")
