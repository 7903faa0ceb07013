"""Registering and editing providers; who may manage whom."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.errors import BadRequest, Forbidden, NotFound
from dispatch.geo.coords import to_wgs84
from dispatch.providers.schemas import ProviderCreate, ProviderPatch
from dispatch.residents.phones import InvalidPhone, normalise_phone
from models import (
    Area,
    AreaKind,
    Category,
    Item,
    Provider,
    ProviderCommunity,
    ProviderKind,
    ProviderService,
    Role,
    User,
)


def _services(session: Session, items: Iterable[str], categories: Iterable[str]) -> list[ProviderService]:
    items, categories = list(dict.fromkeys(items)), list(dict.fromkeys(categories))
    item_ids = dict(session.execute(select(Item.code, Item.id).where(Item.code.in_(items))).all())
    unknown = [c for c in items if c not in item_ids]
    if unknown:
        raise BadRequest(
            f"items: unknown item code(s) {', '.join(unknown)}",
            code="unknown_item",
            message=f"服务事项：目录中没有这些编码：{'、'.join(unknown)}",
        )
    cat_ids = dict(
        session.execute(select(Category.code, Category.id).where(Category.code.in_(categories))).all()
    )
    unknown = [c for c in categories if c not in cat_ids]
    if unknown:
        raise BadRequest(
            f"categories: unknown category code(s) {', '.join(unknown)}",
            code="unknown_category",
            message=f"服务类别：目录中没有这些编码：{'、'.join(unknown)}",
        )
    return [ProviderService(item_id=item_ids[c]) for c in items] + [
        ProviderService(category_id=cat_ids[c]) for c in categories
    ]


def _communities(session: Session, ids: Iterable[int]) -> list[ProviderCommunity]:
    ids = list(dict.fromkeys(ids))
    found = set(session.scalars(select(Area.id).where(Area.id.in_(ids), Area.kind == AreaKind.COMMUNITY)))
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise BadRequest(
            f"communities: no community with id {', '.join(missing)}",
            code="unknown_community",
            message=f"服务社区：没有编号为 {'、'.join(missing)} 的社区",
        )
    return [ProviderCommunity(community_id=i) for i in ids]


def _phone(raw: str, region: str) -> str:
    if not raw:
        return ""
    try:
        return normalise_phone(raw, region).e164
    except InvalidPhone as exc:
        raise BadRequest(f"phone: {exc}", code="invalid_phone", message=f"电话：{exc.message}") from None


def _point(lat: float, lon: float, system: str) -> tuple[float, float]:
    try:
        return to_wgs84(lat, lon, system)  # type: ignore[arg-type]
    except ValueError as exc:
        raise BadRequest(
            f"lat: {exc}", code="invalid_location", message=getattr(exc, "message", "坐标无效")
        ) from None


def create_provider(session: Session, body: ProviderCreate, *, actor: User, region: str) -> Provider:
    organisation_id = body.organisation_id
    if actor.role == Role.ORG_ADMIN:
        if body.kind != ProviderKind.WORKER:
            raise Forbidden(
                "an organisation's admin registers workers of their own organisation only",
                message="机构管理员只能登记本机构的服务人员，不能登记机构",
            )
        if organisation_id not in (None, actor.provider_id):
            raise Forbidden(
                "an organisation's admin registers workers of their own organisation only",
                message="机构管理员只能登记本机构的服务人员",
            )
        organisation_id = actor.provider_id
    if organisation_id is not None:
        org = session.get(Provider, organisation_id)
        if org is None or org.kind != ProviderKind.ORGANISATION:
            raise BadRequest(
                f"organisation_id: no organisation {organisation_id}",
                code="unknown_organisation",
                message=f"所属机构：没有编号为 {organisation_id} 的机构",
            )
    lat, lon = _point(body.lat, body.lon, body.coord_system)
    provider = Provider(
        kind=body.kind,
        name=body.name,
        phone=_phone(body.phone, region),
        organisation_id=organisation_id,
        address=body.address,
        lat=lat,
        lon=lon,
        radius_km=body.radius_km,
        capacity=body.capacity,
        working_hours={d: [list(s) for s in spans] for d, spans in body.working_hours.items()},
    )
    provider.services = _services(session, body.items, body.categories)
    provider.communities = _communities(session, body.communities)
    session.add(provider)
    session.flush()
    return provider


def can_manage(actor: User, provider: Provider) -> bool:
    if actor.role in (Role.ADMIN, Role.SUPERVISOR):
        return True
    if actor.role == Role.ORG_ADMIN:
        return actor.provider_id in (provider.id, provider.organisation_id)
    return False


def update_provider(
    session: Session, provider_id: int, body: ProviderPatch, *, actor: User, region: str
) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None or not (can_manage(actor, provider) or actor.role == Role.OPERATOR):
        raise NotFound(f"no provider {provider_id}", message=f"未找到编号为 {provider_id} 的服务方")
    if not can_manage(actor, provider):
        raise Forbidden("you may not edit this provider", message="您无权修改此服务方")
    changes = body.model_dump(exclude_unset=True, exclude={"coord_system"})
    if (
        changes.get("status") is not None
        and actor.role == Role.ORG_ADMIN
        and provider.id == actor.provider_id
    ):
        raise Forbidden(
            "an organisation cannot suspend or reactivate itself; ask a supervisor",
            message="机构不能暂停或恢复自身，请联系督办",
        )
    if body.lat is not None and body.lon is not None:
        provider.lat, provider.lon = _point(body.lat, body.lon, body.coord_system)
    changes.pop("lat", None)
    changes.pop("lon", None)
    if "phone" in changes and changes["phone"] is not None:
        provider.phone = _phone(changes.pop("phone"), region)
    if changes.get("items") is not None or changes.get("categories") is not None:
        current_items = [s for s in provider.services if s.item_id is not None]
        current_cats = [s for s in provider.services if s.item_id is None]
        items = changes.pop("items", None)
        cats = changes.pop("categories", None)
        item_codes = items if items is not None else _codes(session, Item, [s.item_id for s in current_items])
        cat_codes = (
            cats if cats is not None else _codes(session, Category, [s.category_id for s in current_cats])
        )
        if not item_codes and not cat_codes:
            raise BadRequest(
                "items: a provider must serve at least one item or category",
                code="no_services",
                message="服务事项：服务方至少要服务一个事项或类别",
            )
        provider.services = _services(session, item_codes, cat_codes)
    if changes.get("communities") is not None:
        provider.communities = _communities(session, changes.pop("communities"))
    if changes.get("working_hours") is not None:
        provider.working_hours = {
            d: [list(s) for s in spans] for d, spans in changes.pop("working_hours").items()
        }
    for key in ("name", "address", "radius_km", "capacity", "status"):
        if changes.get(key) is not None:
            setattr(provider, key, changes[key])
    session.flush()
    return provider


def _codes(session: Session, model: type[Item] | type[Category], ids: list[int | None]) -> list[str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return []
    return list(session.scalars(select(model.code).where(model.id.in_(wanted))))
