"""Resident lookup (by phone, by name/address) and profile with history.

Both show personal data, so both are recorded in the access trail (``dispatch.audit``); numbers
are masked (``POST /api/v1/phones/reveal`` shows one, with a reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import selectinload

from dispatch.audit.service import Access, Seen, record, record_many
from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest, NotFound
from dispatch.inputs import Id
from dispatch.residents import repository, service
from dispatch.residents.phones import InvalidPhone, normalise_phone
from dispatch.residents.profile import resident_detail, resident_out
from dispatch.residents.schemas import ResidentDetail, ResidentList, ResidentOut, ResidentPatch
from models import Resident, Role, User

Staff = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]

router = APIRouter(
    prefix="/api/v1/residents",
    tags=["residents"],
    # Personal data: call-centre staff only, never providers.
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))],
)


@router.get("", response_model=ResidentList)
def find_residents(
    db: Db,
    ctx: Ctx,
    user: Staff,
    phone: Annotated[str | None, Query(max_length=32, description="exact number, any common format")] = None,
    q: Annotated[str | None, Query(max_length=100, description="name or address, typos tolerated")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ResidentList:
    if bool(phone) == bool(q):
        raise BadRequest(
            "give exactly one of phone or q",
            code="bad_query",
            message="请填写电话或搜索词其中一项（不能都填或都不填）",
        )
    region = ctx.settings.locale.default_region
    if phone:
        try:
            e164 = normalise_phone(phone, region).e164
        except InvalidPhone as exc:
            raise BadRequest(f"phone: {exc}", code="invalid_phone", message=f"电话：{exc.message}") from None
        found = repository.by_phone(db, e164)
        items = [resident_out(found, region=region)] if found else []
        how = "by phone"
    else:
        hits = service.search(db, q or "", limit=limit)
        items = [resident_out(h.resident, round(h.score, 1), region=region) for h in hits]
        how = f"by name or address: {q}"
    record_many(db, user, Access.RESIDENT_SEARCH, [Seen(r.id) for r in items], at=ctx.clock.now(), detail=how)
    return ResidentList(items=items, total=len(items))


def _load(db: Db, resident_id: Id) -> Resident:
    r = db.get(Resident, resident_id, options=[selectinload(Resident.phones)])
    if r is None:
        raise NotFound(f"no resident {resident_id}", message=f"未找到编号为 {resident_id} 的居民")
    return r


@router.get("/{resident_id}", response_model=ResidentDetail)
def get_resident(resident_id: Id, db: Db, ctx: Ctx, user: Staff) -> ResidentDetail:
    detail = resident_detail(db, _load(db, resident_id), region=ctx.settings.locale.default_region)
    record(db, user, Access.PROFILE, at=ctx.clock.now(), resident_id=resident_id)
    return detail


@router.patch("/{resident_id}", response_model=ResidentOut)
def update_resident(resident_id: Id, patch: ResidentPatch, db: Db, ctx: Ctx) -> ResidentOut:
    r = _load(db, resident_id)
    for key, value in patch.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(r, key, value)
    db.flush()
    return resident_out(r, region=ctx.settings.locale.default_region)
