"""``GET /api/v1/stats/providers``: the star evaluation and league table (``dispatch.reports.league``).

Admins and supervisors see every row. An organisation admin sees their own organisation's row
(``kind=organisation``) or their own workers (``kind=worker``), with the district's averages,
never another organisation's figures. Operators and workers may not read it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest, InvalidValue
from dispatch.pagination import Page
from dispatch.reports.league import League, Period, Rules, league
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
    s = ctx.settings
    rules = Rules(
        floor=s.evaluation.floor_stars,
        warning_after_periods=s.evaluation.warning_after_periods,
        complaint_max_stars=s.evaluation.complaint_max_stars,
        satisfied_min_stars=s.tracking.satisfied_min_stars,
        timezone=s.locale.timezone,
    )
    return league(db, period=parsed, kind=kind, rules=rules)


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
