"""Catalogue endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dispatch.catalogue.schemas import (
    CategoryIn,
    CategoryPatch,
    ItemIn,
    ItemPatch,
    ReasonOut,
    SuggestionItem,
    SuggestOut,
)
from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import BadRequest, Conflict, NotFound
from models import Category, Item, Role, SlaClass

router = APIRouter(
    prefix="/api/v1/catalogue", tags=["catalogue"], dependencies=[Depends(require_roles(*ALL_ROLES))]
)
# Editing the catalogue is an admin's job; reading it is everyone's.
Admin = Depends(require_roles(Role.ADMIN))


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
    active: bool


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
                code=cat.code,
                name_zh=cat.name_zh,
                name_en=cat.name_en,
                item_codes=[i.code for i in shown],
                active=cat.active,
            )
        )
        items.extend(item_out(i, cat.code) for i in shown)
    return CatalogueOut(categories=categories, items=items, total=len(items))


ItemsRead = Annotated[list[ItemOut], Depends(get_catalogue)]


@router.get("/suggest", response_model=SuggestOut, response_model_exclude_none=True)
def suggest(
    db: Db,
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=500, description="what the resident said")],
    limit: Annotated[int, Query(ge=1, le=20)] = 3,
    explain: Annotated[
        bool, Query(description="also say which phrases matched, and how much each counted")
    ] = False,
) -> SuggestOut:
    """Catalogue items for free text, best first (empty when nothing matches)."""
    suggester = ctx.caches.suggestions.suggester(db)
    found = suggester.suggest(q, limit=limit)
    why = suggester.reasons(q, [s.item_code for s in found]) if explain else {}
    return SuggestOut(
        suggestions=[
            SuggestionItem(
                item_code=s.item_code,
                category_code=s.category_code,
                name=s.name,
                score=round(s.score, 4),
                why=[ReasonOut(phrase=r.phrase, matched=r.matched, weight=r.weight) for r in why[s.item_code]]
                if explain
                else None,
            )
            for s in found
        ]
    )


def _category(db: Db, code: str) -> Category:
    cat = db.scalar(select(Category).where(Category.code == code))
    if cat is None:
        raise NotFound(f"no category {code}", message=f"未找到编码为 {code} 的服务类别")
    return cat


def _item(db: Db, code: str) -> Item:
    item = db.scalar(select(Item).where(Item.code == code))
    if item is None:
        raise NotFound(f"no item {code}", message=f"未找到编码为 {code} 的服务事项")
    return item


@router.post("/categories", status_code=201, response_model=CategoryOut, dependencies=[Admin])
def create_category(body: CategoryIn, db: Db) -> CategoryOut:
    if db.scalar(select(Category.id).where(Category.code == body.code)) is not None:
        raise Conflict(f"category {body.code} already exists", message=f"编码为 {body.code} 的服务类别已存在")
    cat = Category(code=body.code, name_zh=body.name_zh, name_en=body.name_en)
    db.add(cat)
    db.flush()
    return CategoryOut(
        code=cat.code, name_zh=cat.name_zh, name_en=cat.name_en, item_codes=[], active=cat.active
    )


@router.patch("/categories/{code}", response_model=CategoryOut, dependencies=[Admin])
def update_category(code: str, body: CategoryPatch, db: Db, ctx: Ctx) -> CategoryOut:
    cat = _category(db, code)
    ctx.caches.suggestions.cache.invalidate()
    for key, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(cat, key, value)
    db.flush()
    codes = list(db.scalars(select(Item.code).where(Item.category_id == cat.id).order_by(Item.code)))
    return CategoryOut(
        code=cat.code, name_zh=cat.name_zh, name_en=cat.name_en, item_codes=codes, active=cat.active
    )


@router.post("/items", status_code=201, response_model=ItemOut, dependencies=[Admin])
def create_item(body: ItemIn, db: Db, ctx: Ctx) -> ItemOut:
    cat = db.scalar(select(Category).where(Category.code == body.category_code))
    if cat is None:
        raise BadRequest(
            f"category_code: no category {body.category_code}",
            code="unknown_category",
            message=f"所属类别：没有编码为 {body.category_code} 的服务类别",
        )
    if db.scalar(select(Item.id).where(Item.code == body.code)) is not None:
        raise Conflict(f"item {body.code} already exists", message=f"编码为 {body.code} 的服务事项已存在")
    item = Item(
        code=body.code,
        category_id=cat.id,
        name_zh=body.name_zh,
        name_en=body.name_en,
        sla_class_code=body.sla_class,
        home_visit=body.home_visit,
        keywords="|".join(body.keywords),
        notice=body.notice,
    )
    db.add(item)
    db.flush()
    ctx.caches.suggestions.cache.invalidate()
    return item_out(item, cat.code)


@router.patch("/items/{code}", response_model=ItemOut, dependencies=[Admin])
def update_item(code: str, body: ItemPatch, db: Db, ctx: Ctx) -> ItemOut:
    item = _item(db, code)
    changes = body.model_dump(exclude_unset=True)
    if "sla_class" in changes:
        sla = changes.pop("sla_class")
        if sla is not None:
            if db.get(SlaClass, sla) is None:
                raise BadRequest(
                    f"sla_class: unknown class {sla}",
                    code="unknown_sla_class",
                    message=f"时限类别：没有名为 {sla} 的时限类别",
                )
            item.sla_class_code = sla
    if "keywords" in changes:
        words = changes.pop("keywords")
        if words is not None:
            item.keywords = "|".join(words)
    for key, value in changes.items():
        if value is not None or key in ("sign_for_limit", "complete_limit"):
            setattr(item, key, value)
    db.flush()
    ctx.caches.suggestions.cache.invalidate()  # this process sees its own edit at once
    cat = db.get_one(Category, item.category_id)
    return item_out(item, cat.code)
