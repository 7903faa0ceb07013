"""The administrative areas (district → street → community → grid) by name, for pickers: a
provider's communities, a report's grouping. The gazetteer behind geocoding is not exposed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from dispatch.deps import Db, require_roles
from dispatch.inputs import Id
from models import Area, AreaKind, Role

router = APIRouter(prefix="/api/v1/areas", tags=["areas"])


class AreaOut(BaseModel):
    id: int
    kind: AreaKind
    code: str
    name: str
    parent_id: int | None


class AreaList(BaseModel):
    items: list[AreaOut]
    total: int


@router.get(
    "",
    response_model=AreaList,
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR, Role.ORG_ADMIN))],
)
def list_areas(
    db: Db,
    kind: AreaKind | None = None,
    parent_id: Annotated[Id | None, Query(description="only the areas directly under this one")] = None,
) -> AreaList:
    """Areas in code order (a district has a few hundred at most, so the list is whole)."""
    stmt = select(Area).order_by(Area.code)
    if kind is not None:
        stmt = stmt.where(Area.kind == kind)
    if parent_id is not None:
        stmt = stmt.where(Area.parent_id == parent_id)
    items = [
        AreaOut(id=a.id, kind=a.kind, code=a.code, name=a.name, parent_id=a.parent_id)
        for a in db.scalars(stmt)
    ]
    return AreaList(items=items, total=len(items))
