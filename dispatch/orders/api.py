"""Order intake and reading (actions on orders live with the lifecycle)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from dispatch.audit.service import Access, record
from dispatch.calls import callbacks
from dispatch.context import AppContext
from dispatch.deps import ALL_ROLES, Ctx, Db, require_roles
from dispatch.errors import BadRequest, Forbidden, NotFound
from dispatch.idempotency import run_once
from dispatch.inputs import AwareTime, Id
from dispatch.orders import repository
from dispatch.orders.intake import IntakeError, IntakeRequest, create_order
from dispatch.orders.offers import offer_if_auto
from dispatch.orders.schemas import (
    OrderCreate,
    OrderCreated,
    OrderDetail,
    OrderList,
    OrderOut,
    SuggestionOut,
    TimelineEntry,
)
from dispatch.orders.views import CALL_CENTRE, OrderViews
from dispatch.pagination import Page, paginate
from dispatch.residents.phones import InvalidPhone, normalise_phone
from dispatch.residents.privacy import PROVIDERS, View, mask_actor
from models import (
    CallOutcome,
    Channel,
    Item,
    Order,
    OrderEvent,
    OrderStatus,
    Role,
    Supervision,
    User,
)

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


Intaker = Annotated[
    User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR, Role.ORG_ADMIN, Role.WORKER))
]
Reader = Annotated[User, Depends(require_roles(*ALL_ROLES))]


def order_views(ctx: AppContext, db: Db, user: User, view: View = View.LIST) -> OrderViews:
    """Order payloads for ``user``, with the calendar's coverage read once (cached) for the page."""
    return OrderViews(
        db,
        user,
        region=ctx.settings.locale.default_region,
        view=view,
        coverage=ctx.caches.calendars.coverage(db, ctx.clock.now()),
        tz=ctx.tz,
    )


# Facts of a timeline entry about the resident (whether the number was known, whether the name
# matched, their other open order): the call centre's, not the providers'.
RESIDENT_FACTS = frozenset({"resident_created", "name_mismatch", "possible_duplicate_of"})


@router.post("", status_code=201, response_model=OrderCreated)
def create(
    body: OrderCreate,
    request: Request,
    db: Db,
    user: Intaker,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Take a request: classify (when no item_code), match the resident, locate, set deadlines."""
    if user.role in (Role.WORKER, Role.ORG_ADMIN) and body.channel != Channel.VISIT:
        raise Forbidden(
            'workers and organisation admins log requests met on a home visit only (channel "visit")',
            message="服务人员只能登记上门时遇到的诉求（受理渠道选“上门”）",
        )
    patrol = body.caller_phone is None  # a patrol report: no resident (OrderCreate checks the rest)
    if body.channel == Channel.VISIT and not patrol and (body.consent is None or not body.consent.given):
        raise BadRequest(
            "consent: a request filed on a home visit needs the resident's consent (given, method)",
            code="consent_required",
            message="居民同意：上门登记诉求须先征得居民同意，并注明同意方式（口头或签字）",
        )
    if body.callback_id is not None and user.role not in (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR):
        raise Forbidden(
            "only the call centre returns callbacks", message="只有呼叫中心（坐席、督办、管理员）才能回拨来电"
        )
    provider = user.role in PROVIDERS
    if provider and body.call_id is not None:
        raise Forbidden(
            "only the call centre links an order to a call", message="只有呼叫中心才能把工单关联到来电记录"
        )
    if provider and not body.address:
        # A provider may not learn where a resident is registered: the order goes where they say.
        raise BadRequest(
            "address: give the address of the visit (a provider's request goes only to the address it gives)",
            code="address_required",
            message="地址：请填写上门服务的地址（服务人员登记的诉求只按您填写的地址办理）",
        )
    visit_consent = body.channel == Channel.VISIT and body.consent is not None
    ctx = request.app.state.ctx
    try:
        phone = None if patrol else normalise_phone(body.caller_phone, ctx.settings.locale.default_region)
    except InvalidPhone as exc:
        raise BadRequest(
            f"caller_phone: {exc}", code="invalid_phone", message=f"来电号码：{exc.message}"
        ) from None
    now = ctx.clock.now()

    req = IntakeRequest(
        phone=phone,
        description=body.description,
        channel=body.channel,
        resident_name=body.resident_name,
        address=body.address,
        lat=body.lat,
        lon=body.lon,
        coord_system=body.coord_system,
        item_code=body.item_code,
        priority=body.priority,
        call_id=body.call_id,
        use_registered_address=not provider,
        consent_method=body.consent.method if visit_consent else None,
        consent_note=(body.consent.note or "").strip() or None if visit_consent else None,
    )
    try:
        prepared = ctx.prepare_intake(req)
    except IntakeError as exc:
        raise BadRequest(str(exc), code=exc.code, message=exc.message) from None

    def work() -> tuple[int, dict[str, Any]]:
        callback = callbacks.get_open(db, body.callback_id) if body.callback_id is not None else None
        taken = req
        if callback is not None and req.call_id is None:
            taken = replace(req, call_id=callback.first_call_id)
        try:
            result = create_order(
                db, taken, actor=user, now=now, services=ctx.intake_services(db), prepared=prepared
            )
        except IntakeError as exc:
            raise BadRequest(str(exc), code=exc.code, message=exc.message) from None
        o = result.order
        if callback is not None:
            callbacks.close(
                db,
                callback,
                outcome=CallOutcome.ORDER,
                order_id=o.id,
                note="",
                actor=user,
                now=now,
                rules=ctx.callback_rules(),
            )
        # The order is new: no provider has returned it yet.
        offer_if_auto(db, o, ctx=ctx.dispatch_context(db), now=now, excluded=())
        out = OrderCreated(
            **order_views(ctx, db, user, View.INTAKE).load([o]).fields(o),
            safety_notice=result.item.notice,
            suggestions=[
                SuggestionOut(
                    item_code=s.item_code, category_code=s.category_code, name=s.name, score=s.score
                )
                for s in result.suggestions
            ],
            resident_created=None if provider else result.resident_created,
            name_mismatch=None if provider else result.name_mismatch,
            location_precision=result.location.precision if result.location else None,
            location_source=result.location.source if result.location else None,
        )
        return 201, out.model_dump(mode="json")

    status, payload, replayed = run_once(
        db,
        scope=f"orders:user:{user.id}",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        now=now,
        work=work,
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return JSONResponse(payload, status_code=status, headers=headers)


@router.get("", response_model=OrderList)
def list_orders(
    db: Db,
    ctx: Ctx,
    user: Reader,
    page: Page,
    status: OrderStatus | None = None,
    item_code: Annotated[str | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=20, description="a category code")] = None,
    community_id: Annotated[Id | None, Query(description="the order's community (an area id)")] = None,
    provider_id: Id | None = None,
    resident_id: Id | None = None,
    from_: Annotated[
        AwareTime | None, Query(alias="from", description="created at or after (ISO 8601, with a time zone)")
    ] = None,
    to: Annotated[AwareTime | None, Query(description="created before (ISO 8601, with a time zone)")] = None,
    queue: Annotated[
        repository.Queue | None,
        Query(
            description="supervisor: waiting for a supervisor; dispatch: received, waiting for the call "
            "centre; callback: completed, waiting for the rating callback (soonest due first)"
        ),
    ] = None,
    overdue: bool | None = None,
    supervision: Annotated[Supervision | None, Query(description="yellow or red: escalated orders")] = None,
    open_: Annotated[
        bool | None,
        Query(
            alias="open",
            description="true: only orders still being worked on (received to in service); false: only finished ones",
        ),
    ] = None,
    number: Annotated[
        str | None,
        Query(
            pattern=repository.NUMBER_QUERY,
            description="a whole order number (20261123-0042, dash optional) or its last digits (0042)",
        ),
    ] = None,
) -> OrderList:
    stmt = repository.list_stmt(
        db,
        user,
        status=status,
        item_code=item_code,
        category_code=category,
        community_id=community_id,
        provider_id=provider_id,
        resident_id=resident_id,
        created_from=from_,
        created_to=to,
        queue=queue,
        today=ctx.clock.now().astimezone(ctx.tz).date(),
        overdue=overdue,
        supervision=supervision,
        open_=open_,
        number=number,
    )
    rows, total = paginate(db, stmt, page)
    views = order_views(ctx, db, user).load(rows)
    return OrderList(items=[OrderOut(**views.fields(o)) for o in rows], total=total)


@router.get("/{order_id}", response_model=OrderDetail)
def get_order(order_id: Id, db: Db, ctx: Ctx, user: Reader) -> OrderDetail:
    o = repository.get_visible(db, user, order_id)
    if o is None:
        raise NotFound(f"no order {order_id}", message=f"未找到编号为 {order_id} 的工单（或您无权查看）")
    item = db.get_one(Item, o.item_id)
    events = list(db.scalars(select(OrderEvent).where(OrderEvent.order_id == o.id).order_by(OrderEvent.id)))
    staff = user.role in CALL_CENTRE
    if not staff:  # internal notes are the call centre's
        events = [e for e in events if not (e.data or {}).get("internal")]
    views = order_views(ctx, db, user, View.DETAIL).load([o])
    fields = views.fields(o)
    _record_detail(db, ctx, user, o, fields)
    region = ctx.settings.locale.default_region
    return OrderDetail(
        **fields,
        safety_notice=item.notice,
        suggestions=list(o.suggestions or []),
        completion_note=o.completion_note,
        checkin_distance_m=o.checkin_distance_m,
        checkin_far=o.checkin_far,
        checkout_at=o.checkout_at,
        checkout_distance_m=o.checkout_distance_m,
        checkout_far=o.checkout_far,
        consent_method=o.consent_method,
        timeline=[
            TimelineEntry(
                at=e.at,
                action=e.action,
                from_status=e.from_status.value if e.from_status else None,
                to_status=e.to_status.value if e.to_status else None,
                actor=mask_actor(e.actor, region),
                note=e.note,
                data={k: v for k, v in (e.data or {}).items() if staff or k not in RESIDENT_FACTS},
            )
            for e in events
        ],
    )


def _record_detail(db: Db, ctx: AppContext, user: User, o: Order, fields: dict[str, Any]) -> None:
    """An order's detail shows where the resident is, and to most readers who they are: recorded."""
    if o.resident_id is None:
        return
    resident = fields["resident"] or {}
    shown = [
        name
        for name, there in (
            ("phone", fields["caller_phone"] is not None),
            ("name", bool(resident.get("name"))),
            ("tags", resident.get("tags") is not None),
            ("address", bool(fields["address"])),
        )
        if there
    ]
    record(
        db,
        user,
        Access.ORDER_DETAIL,
        at=ctx.clock.now(),
        resident_id=o.resident_id,
        order_id=o.id,
        detail=",".join(shown),
    )
