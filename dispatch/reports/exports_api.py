"""``GET /api/v1/exports/orders.csv`` (and ``orders.xlsx``): the orders of a period as CSV, masked unless an admin asks for
personal data with a reason. Every export is recorded in the access trail: a masked one as one
record, one with personal data as a record per order (whose data left the system, and why)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response

from dispatch.audit.service import Access, Seen, record, record_many
from dispatch.deps import Ctx, Db, require_roles
from dispatch.downloads import LayoutParam, csv_response, xlsx_response
from dispatch.errors import BadRequest, Forbidden
from dispatch.inputs import AwareTime
from dispatch.reports import orders_export
from dispatch.reports.xlsx import XLSX_RESPONSES, Sheet
from dispatch.spreadsheet import SafeWriter
from models import OrderStatus, Role, User

router = APIRouter(prefix="/api/v1/exports", tags=["stats"])
Exporter = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR))]
DEFAULT_PERIOD = timedelta(days=30)
MAX_ROWS = 20_000


FromParam = Annotated[
    AwareTime | None, Query(alias="from", description="created at or after (ISO 8601, with a time zone)")
]
ToParam = Annotated[AwareTime | None, Query(description="created before (default: now)")]
PersonalParam = Annotated[
    bool, Query(description="admins: whole names, numbers, addresses and tags (needs a reason; recorded)")
]
ReasonParam = Annotated[str | None, Query(max_length=200, description="why personal data is exported")]


@dataclass(frozen=True)
class Filters:
    """What an order export asks for (the same for CSV and Excel)."""

    from_: datetime | None
    to: datetime | None
    status: OrderStatus | None
    personal: bool
    reason: str | None


def filters(
    from_: FromParam = None,
    to: ToParam = None,
    status: OrderStatus | None = None,
    personal: PersonalParam = False,
    reason: ReasonParam = None,
) -> Filters:
    return Filters(from_, to, status, personal, reason)


Asked = Annotated[Filters, Depends(filters)]


@dataclass(frozen=True)
class Exported:
    rows: list[list[object]]
    start: datetime
    end: datetime
    personal: bool

    def filename(self, tz: ZoneInfo, ext: str) -> str:
        days = f"{self.start.astimezone(tz):%Y%m%d}-{self.end.astimezone(tz):%Y%m%d}"
        return f"sanshe-orders-{'personal' if self.personal else 'masked'}-{days}.{ext}"


def _export(db: Db, ctx: Ctx, user: User, asked: Filters, *, file: str) -> Exported:
    """The checks, the rows and the access-trail records every order export shares."""
    from_, to, status, personal, reason = asked.from_, asked.to, asked.status, asked.personal, asked.reason
    why = (reason or "").strip()
    if personal and user.role != Role.ADMIN:
        raise Forbidden(
            "only admins export personal data", message="只有管理员可以导出含个人信息的数据；可导出脱敏数据"
        )
    if personal and len(why) < 2:
        raise BadRequest(
            "reason: say why personal data is exported (it is recorded)",
            code="reason_required",
            message="原因：导出个人信息须填写原因（将记入访问记录）",
        )
    end = to or ctx.clock.now()
    start = from_ or end - DEFAULT_PERIOD
    if start >= end:
        raise BadRequest("from: must be before to", code="invalid_period", message="开始时间：须早于结束时间")
    found = orders_export.count(db, start=start, end=end, status=status)
    if found > MAX_ROWS:
        raise BadRequest(
            f"{found} orders: export at most {MAX_ROWS} at once (narrow the period)",
            code="too_many_rows",
            message=f"共 {found} 张工单，一次最多导出 {MAX_ROWS} 张，请缩短时间段",
        )
    region = ctx.settings.locale.default_region
    seen: list[Seen] = []
    rows: list[list[object]] = []
    for row in orders_export.rows(
        db, start=start, end=end, status=status, personal=personal, region=region, tz=ctx.tz
    ):
        rows.append(row.cells)
        if row.resident_id is not None:
            seen.append(Seen(row.resident_id, row.order_id))
    period = f"{start.astimezone(ctx.tz):%Y-%m-%d %H:%M}–{end.astimezone(ctx.tz):%Y-%m-%d %H:%M}"
    what = f"{file}, {len(rows)} orders created {period}" + (f", status {status.value}" if status else "")
    now = ctx.clock.now()
    if personal:
        record_many(db, user, Access.EXPORT, seen, at=now, reason=why, detail=f"personal data: {what}")
    else:
        record(db, user, Access.EXPORT, at=now, reason=why, detail=f"masked: {what}")
    return Exported(rows, start, end, personal)


@router.get(
    "/orders.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per order, oldest first"}},
)
def export_orders(db: Db, ctx: Ctx, user: Exporter, asked: Asked, layout: LayoutParam = "zh") -> Response:
    """The orders created in [from, to) (default: the last 30 days), at most 20,000, for Excel
    (UTF-8 with a BOM). Masked by default: surname only, numbers masked, no house numbers, no tags.

    ``layout=zh`` (the default, for people): Chinese headers, statuses, channels and priorities,
    local times as ``2026-11-03 14:05``. ``layout=raw`` (for scripts): the field names as
    headers, machine codes, local times in ISO 8601 (the CSV before 2026-12)."""
    exported = _export(db, ctx, user, asked, file="orders.csv")
    out = io.StringIO()
    writer = SafeWriter(out)
    if layout == "zh":
        writer.writerow([column.title for column in orders_export.TITLES])
        writer.writerows(orders_export.for_people(cells) for cells in exported.rows)
    else:
        writer.writerow(orders_export.COLUMNS)
        writer.writerows(orders_export.as_text(cells) for cells in exported.rows)
    return csv_response(out.getvalue(), exported.filename(ctx.tz, "csv"))


@router.get("/orders.xlsx", response_class=Response, responses=XLSX_RESPONSES)
def export_orders_xlsx(db: Db, ctx: Ctx, user: Exporter, asked: Asked) -> Response:
    """The same orders as ``orders.csv`` (same filters, masking, roles and access-trail records)
    as an Excel workbook: Chinese headers and statuses, times as dates, header row frozen."""
    exported = _export(db, ctx, user, asked, file="orders.xlsx")
    rows = [orders_export.readable(cells) for cells in exported.rows]
    sheet = Sheet("工单", orders_export.TITLES, rows)
    return xlsx_response([sheet], exported.filename(ctx.tz, "xlsx"))
