"""Resident lookup (by phone, by name/address) and profile with history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import selectinload

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest, NotFound
from dispatch.inputs import Id
from dispatch.residents import repository, service
from dispatch.residents.phones import InvalidPhone, normalise_phone
from dispatch.residents.profile import resident_detail, resident_out
from dispatch.residents.schemas import ResidentDetail, ResidentList, ResidentOut, ResidentPatch
from models import Resident, Role

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
    if phone:
        try:
            e164 = normalise_phone(phone, ctx.settings.locale.default_region).e164
        except InvalidPhone as exc:
            raise BadRequest(f"phone: {exc}", code="invalid_phone", message=f"电话：{exc.message}") from None
        found = repository.by_phone(db, e164)
        items = [resident_out(found)] if found else []
        return ResidentList(items=items, total=len(items))
    hits = service.search(db, q or "", limit=limit)
    return ResidentList(items=[resident_out(h.resident, round(h.score, 1)) for h in hits], total=len(hits))


def _load(db: Db, resident_id: Id) -> Resident:
    r = db.get(Resident, resident_id, options=[selectinload(Resident.phones)])
    if r is None:
        raise NotFound(f"no resident {resident_id}", message=f"未找到编号为 {resident_id} 的居民")
    return r


@router.get("/{resident_id}", response_model=ResidentDetail)
def get_resident(resident_id: Id, db: Db) -> ResidentDetail:
    return resident_detail(db, _load(db, resident_id))


@router.patch("/{resident_id}", response_model=ResidentOut)
def update_resident(resident_id: Id, patch: ResidentPatch, db: Db) -> ResidentOut:
    r = _load(db, resident_id)
    for key, value in patch.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(r, key, value)
    db.flush()
    return resident_out(r)
