"""Catalogue endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.deps import ALL_ROLES, Db, require_roles
from models import Category, Item

router = APIRouter(
    prefix="/api/v1/catalogue", tags=["catalogue"], dependencies=[Depends(require_roles(*ALL_ROLES))]
)


class ItemOut(BaseModel):
    code: str
    category_code: str
    name_zh: str
    name_en: str
    sla_class: str
    home_visit: bool
    keywords: list[str]
    notice: str
    active: bool


class CategoryOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    item_codes: list[str]


class CatalogueOut(BaseModel):
    categories: list[CategoryOut]
    items: list[ItemOut]
    total: int


def item_out(item: Item, category_code: str) -> ItemOut:
    return ItemOut(
        code=item.code,
        category_code=category_code,
        name_zh=item.name_zh,
        name_en=item.name_en,
        sla_class=item.sla_class_code,
        home_visit=item.home_visit,
        keywords=[k for k in item.keywords.split("|") if k],
        notice=item.notice,
        active=item.active,
    )


@router.get("", response_model=CatalogueOut)
def get_catalogue(db: Db, include_inactive: bool = False) -> CatalogueOut:
    """The whole catalogue: categories with their item codes, and every item."""
    stmt = select(Category).options(selectinload(Category.items)).order_by(Category.id)
    categories: list[CategoryOut] = []
    items: list[ItemOut] = []
    for cat in db.scalars(stmt):
        if not cat.active and not include_inactive:
            continue
        shown = [i for i in cat.items if i.active or include_inactive]
        categories.append(
            CategoryOut(
                code=cat.code, name_zh=cat.name_zh, name_en=cat.name_en, item_codes=[i.code for i in shown]
            )
        )
        items.extend(item_out(i, cat.code) for i in shown)
    return CatalogueOut(categories=categories, items=items, total=len(items))


ItemsRead = Annotated[list[ItemOut], Depends(get_catalogue)]
