"""The access trail for admins: ``GET /api/v1/audit`` (by resident, by user, by order, by kind,
by period; newest first) and the same as CSV (``/api/v1/audit/export.csv``). Read only: no
endpoint changes or deletes a record."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.audit.service import ACCESS_ZH, Access, trail
from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest
from dispatch.inputs import AwareTime, Id
from dispatch.pagination import Page, paginate
from dispatch.residents.privacy import mask_name
from dispatch.spreadsheet import SafeWriter
from models import AccessRecord, Order, Resident, Role, User

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Admin = Annotated[User, Depends(require_roles(Role.ADMIN))]
MAX_EXPORT = 100_000
HEADER = (
    "at", "username", "role", "action", "action_zh", "resident_id", "resident_name", "order_number", "reason",
    "detail",
)  # fmt: skip
# Cells a spreadsheet would run as formulas are written as text (OWASP "CSV Injection"): reasons
# and details are typed by people.


class AccessOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str
    role: str
    action: Access
    action_zh: str
    resident_id: int | None
    resident_name: str = Field(description="masked (王**): the trail says whose, not who they are")
    order_id: int | None
    order_number: str | None
    reason: str
    detail: str


class AccessList(BaseModel):
    items: list[AccessOut]
    total: int


class Filters:
    """The query parameters both endpoints take."""

    def __init__(
        self,
        resident_id: Id | None = None,
        user_id: Id | None = None,
        order_id: Id | None = None,
        action: Access | None = None,
        from_: Annotated[
            AwareTime | None, Query(alias="from", description="at or after (ISO 8601, with a time zone)")
        ] = None,
        to: Annotated[AwareTime | None, Query(description="before (ISO 8601, with a time zone)")] = None,
    ) -> None:
        self.stmt = trail(
            resident_id=resident_id, user_id=user_id, order_id=order_id, action=action, start=from_, end=to
        )


def _rows_out(db: Session, rows: list[AccessRecord]) -> list[AccessOut]:
    def names(model: Any, column: Any, ids: set[int | None]) -> dict[int, str]:
        ids.discard(None)
        return dict(db.execute(select(model.id, column).where(model.id.in_(ids))).all()) if ids else {}

    residents = names(Resident, Resident.name, {r.resident_id for r in rows})
    numbers = names(Order, Order.number, {r.order_id for r in rows})
    return [
        AccessOut(
            id=r.id,
            at=r.at,
            user_id=r.user_id,
            username=r.username,
            role=r.role,
            action=Access(r.action),
            action_zh=ACCESS_ZH.get(Access(r.action), r.action),
            resident_id=r.resident_id,
            resident_name=mask_name(residents.get(r.resident_id or 0, "")),
            order_id=r.order_id,
            order_number=numbers.get(r.order_id or 0),
            reason=r.reason,
            detail=r.detail,
        )
        for r in rows
    ]


@router.get("", response_model=AccessList)
def list_access(db: Db, _admin: Admin, page: Page, filters: Annotated[Filters, Depends()]) -> AccessList:
    """Who read which resident's personal data, when and why; newest first."""
    rows, total = paginate(db, filters.stmt, page)
    return AccessList(items=_rows_out(db, rows), total=total)


@router.get(
    "/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the records, newest first"}},
)
def export_access(db: Db, ctx: Ctx, _admin: Admin, filters: Annotated[Filters, Depends()]) -> Response:
    """The same records as CSV (UTF-8 with a BOM, for Excel), at most 100,000."""
    rows = list(db.scalars(filters.stmt.limit(MAX_EXPORT + 1)))
    if len(rows) > MAX_EXPORT:
        raise BadRequest(
            f"more than {MAX_EXPORT} records: narrow the period or choose a resident or user",
            code="too_many_rows",
            message=f"记录超过 {MAX_EXPORT} 条，请缩短时间段或指定居民、账号",
        )
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(HEADER)
    tz = ctx.tz
    for r in _rows_out(db, rows):
        cells = (
            r.at.astimezone(tz).isoformat(),
            r.username,
            r.role,
            r.action.value,
            r.action_zh,
            r.resident_id or "",
            r.resident_name,
            r.order_number or "",
            r.reason,
            r.detail,
        )
        writer.writerow(cells)
    stamp = ctx.clock.now().astimezone(tz).strftime("%Y%m%d-%H%M")
    return Response(
        content=("\ufeff" + out.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="sanshe-access-{stamp}.csv"'},
    )
