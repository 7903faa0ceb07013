"""The contract's list shape: ``{"items": [...], "total": N}`` with ``limit``/``offset``."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from dispatch.inputs import MAX_OFFSET

T = TypeVar("T")


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many items")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many items")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Page = Annotated[PageParams, Depends(page_params)]


def paginate(db: Session, stmt: Select[Any], page: PageParams) -> tuple[list[Any], int]:
    """Run ``stmt`` for one page and count the whole result (ordering is the caller's)."""
    total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(db.scalars(stmt.limit(page.limit).offset(page.offset)))
    return rows, total
