"""Provider endpoints (read side; registration and editing come with the dispatcher)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import NotFound
from dispatch.inputs import Id
from dispatch.pagination import Page, paginate
from dispatch.providers import service
from dispatch.providers.schemas import ProviderCreate, ProviderPatch
from models import Category, Item, Provider, ProviderKind, ProviderStatus, Role, User

router = APIRouter(prefix="/api/v1/providers", tags=["providers"])

Reader = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR, Role.ORG_ADMIN))]


class ProviderOut(BaseModel):
    id: int
    kind: str
    name: str
    phone: str
    organisation_id: int | None
    address: str
    lat: float
    lon: float
    radius_km: float
    capacity: int
    open_count: int
    status: str
    star_level: float
    rating_count: int
    items: list[str]
    categories: list[str]
    communities: list[int]
    working_hours: dict[str, list[list[str]]]


class ProviderList(BaseModel):
    items: list[ProviderOut]
    total: int


def provider_out(p: Provider, item_codes: dict[int, str], category_codes: dict[int, str]) -> ProviderOut:
    return ProviderOut(
        id=p.id,
        kind=p.kind.value,
        name=p.name,
        phone=p.phone,
        organisation_id=p.organisation_id,
        address=p.address,
        lat=p.lat,
        lon=p.lon,
        radius_km=p.radius_km,
        capacity=p.capacity,
        open_count=p.open_count,
        status=p.status.value,
        star_level=round(p.star_level, 2),
        rating_count=p.rating_count,
        items=sorted(item_codes[s.item_id] for s in p.services if s.item_id is not None),
        categories=sorted(
            category_codes[s.category_id] for s in p.services if s.item_id is None and s.category_id
        ),
        communities=sorted(c.community_id for c in p.communities),
        working_hours=p.working_hours or {},
    )


def _code_maps(db: Db) -> tuple[dict[int, str], dict[int, str]]:
    return dict(db.execute(select(Item.id, Item.code)).all()), dict(
        db.execute(select(Category.id, Category.code)).all()
    )


@router.get("", response_model=ProviderList)
def list_providers(
    db: Db,
    user: Reader,
    page: Page,
    kind: ProviderKind | None = None,
    status: ProviderStatus | None = None,
    organisation_id: Id | None = None,
    q: Annotated[str | None, Query(max_length=50, description="part of the name")] = None,
) -> ProviderList:
    stmt = (
        select(Provider)
        .options(selectinload(Provider.services), selectinload(Provider.communities))
        .order_by(Provider.id)
    )
    if user.role == Role.ORG_ADMIN:
        # An organisation's admin sees the organisation and its own workers only.
        stmt = stmt.where(or_(Provider.id == user.provider_id, Provider.organisation_id == user.provider_id))
    if kind is not None:
        stmt = stmt.where(Provider.kind == kind)
    if status is not None:
        stmt = stmt.where(Provider.status == status)
    if organisation_id is not None:
        stmt = stmt.where(Provider.organisation_id == organisation_id)
    if q:
        stmt = stmt.where(Provider.name.contains(q, autoescape=True))
    rows, total = paginate(db, stmt, page)
    items, cats = _code_maps(db)
    return ProviderList(items=[provider_out(p, items, cats) for p in rows], total=total)


Manager = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.ORG_ADMIN))]


@router.post("", status_code=201, response_model=ProviderOut)
def register_provider(body: ProviderCreate, db: Db, ctx: Ctx, user: Manager) -> ProviderOut:
    """Register an organisation or a worker (org admins: workers of their own organisation)."""
    p = service.create_provider(db, body, actor=user, region=ctx.settings.locale.default_region)
    ctx.caches.providers.cache.invalidate()
    items, cats = _code_maps(db)
    return provider_out(p, items, cats)


@router.patch("/{provider_id}", response_model=ProviderOut)
def edit_provider(provider_id: Id, body: ProviderPatch, db: Db, ctx: Ctx, user: Manager) -> ProviderOut:
    p = service.update_provider(db, provider_id, body, actor=user, region=ctx.settings.locale.default_region)
    ctx.caches.providers.cache.invalidate()
    items, cats = _code_maps(db)
    return provider_out(p, items, cats)


@router.get("/{provider_id}", response_model=ProviderOut)
def get_provider(provider_id: Id, db: Db, user: Reader) -> ProviderOut:
    p = db.get(
        Provider, provider_id, options=[selectinload(Provider.services), selectinload(Provider.communities)]
    )
    visible = p is not None and (user.role != Role.ORG_ADMIN or user.provider_id in (p.id, p.organisation_id))
    if p is None or not visible:
        raise NotFound(f"no provider {provider_id}", message=f"未找到编号为 {provider_id} 的服务方")
    items, cats = _code_maps(db)
    return provider_out(p, items, cats)
