"""Care visit plans over HTTP: supervisors and admins manage plans, operators read them, the
visiting provider's users see and record their visits (``/api/v1/care-visits``).

Lists name residents by surname only; a plan's detail shows the full name and tags, recorded in
the access trail. A provider's users see their visits (the order, the checklist), not the plan's
resident: the order shows them what the visit needs (``residents.privacy``)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from dispatch.audit.service import Access, Seen, record, record_many
from dispatch.deps import Ctx, CurrentUser, Db, require_roles
from dispatch.errors import BadRequest, Forbidden
from dispatch.idempotency import run_once
from dispatch.inputs import Id, Payload
from dispatch.orders.repository import provider_scope
from dispatch.pagination import Page, paginate
from dispatch.residents.privacy import mask_name
from dispatch.visits import coverage as cov
from dispatch.visits import service
from dispatch.visits.plans import FREQUENCY_LABELS, OUTCOME_LABELS, PLAN_KINDS
from models import (
    Area,
    CareVisit,
    Frequency,
    Order,
    PlanType,
    Provider,
    Resident,
    Role,
    User,
    VisitOutcome,
    VisitPlan,
)

router = APIRouter(prefix="/api/v1", tags=["visit plans"])
Manager = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR))]
Reader = Annotated[User, Depends(require_roles(Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR))]
CALL_CENTRE = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR})
PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class CheckItemOut(BaseModel):
    code: str
    text: str


class PlanKindOut(BaseModel):
    plan_type: PlanType
    label: str
    tags: list[str]
    item_code: str
    checklist: list[CheckItemOut]


class PlanIn(Payload):
    resident_id: Id
    plan_type: PlanType
    frequency: Frequency
    provider_id: Id = Field(description="the visitor: a grid worker, a social worker or an organisation")
    start_on: date | None = Field(None, description="the first visit's day (default: today)")
    note: str = Field("", max_length=300)


class PlanPatch(Payload):
    frequency: Frequency | None = None
    provider_id: Id | None = None
    active: bool | None = Field(None, description="false pauses the plan, true resumes it")
    note: str | None = Field(None, max_length=300)


class VisitOut(BaseModel):
    id: int
    plan_id: int
    plan_type: PlanType
    period_on: date
    due_on: date
    attempt: int
    order_id: int | None
    order_number: str | None
    order_status: str | None
    outcome: VisitOutcome | None
    outcome_label: str | None
    answers: dict[str, bool]
    needs: list[dict[str, Any]]
    note: str
    recorded_at: datetime | None
    checklist: list[CheckItemOut]


class PlanOut(BaseModel):
    id: int
    resident_id: int
    resident_name: str = Field(description="lists: the surname only; a plan's detail: the full name")
    resident_tags: list[str] | None = Field(description="a plan's detail only")
    community: str | None
    plan_type: PlanType
    plan_label: str
    frequency: Frequency
    frequency_label: str
    provider_id: int
    visitor: str
    start_on: date
    active: bool
    note: str
    next_period_on: date
    created_at: datetime
    visits: list[VisitOut] | None = Field(None, description="a plan's detail only, latest first")


class PlanList(BaseModel):
    items: list[PlanOut]
    total: int


class VisitList(BaseModel):
    items: list[VisitOut]
    total: int


class NeedIn(Payload):
    item_code: str = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1, max_length=500)


class OutcomeIn(Payload):
    outcome: VisitOutcome
    answers: dict[str, bool] = Field(default_factory=dict, description="checklist code → true (fine) / false")
    needs: list[NeedIn] = Field(default_factory=list, max_length=service.MAX_NEEDS)
    note: str = Field("", max_length=500)


class OutcomeOut(BaseModel):
    visit: VisitOut
    next_visit: VisitOut | None = Field(description="not at home: the next attempt")


class CountsOut(BaseModel):
    key: int | None
    name: str
    planned: int
    done: int
    overdue: int
    pending: int
    not_home: int


class UnvisitedOut(BaseModel):
    plan_id: int
    resident_id: int
    resident_name: str
    community: str
    visitor: str
    frequency: str
    last_visit_on: date | None
    days_since: int | None


class CoverageOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    as_of: date
    total: CountsOut
    by_community: list[CountsOut]
    by_visitor: list[CountsOut]
    unvisited: list[UnvisitedOut]


def _checklist(plan_type: PlanType) -> list[CheckItemOut]:
    return [CheckItemOut(code=c.code, text=c.text) for c in PLAN_KINDS[plan_type].checklist]


def _visit_out(db: Db, v: CareVisit) -> VisitOut:
    order = db.get(Order, v.order_id) if v.order_id is not None else None
    return VisitOut(
        id=v.id,
        plan_id=v.plan_id,
        plan_type=v.plan.plan_type,
        period_on=v.period_on,
        due_on=v.due_on,
        attempt=v.attempt,
        order_id=v.order_id,
        order_number=order.number if order else None,
        order_status=order.status.value if order else None,
        outcome=v.outcome,
        outcome_label=OUTCOME_LABELS[v.outcome] if v.outcome else None,
        answers=dict(v.answers or {}),
        needs=list(v.needs or []),
        note=v.note,
        recorded_at=v.recorded_at,
        checklist=_checklist(v.plan.plan_type),
    )


def _plan_out(db: Db, plan: VisitPlan, *, detail: bool) -> PlanOut:
    resident = db.get_one(Resident, plan.resident_id)
    community = db.get(Area, resident.community_id) if resident.community_id else None
    visitor = db.get(Provider, plan.provider_id)
    visits = None
    if detail:
        rows = db.scalars(
            select(CareVisit)
            .where(CareVisit.plan_id == plan.id)
            .order_by(CareVisit.period_on.desc(), CareVisit.attempt.desc())
        )
        visits = [_visit_out(db, v) for v in rows]
    return PlanOut(
        id=plan.id,
        resident_id=plan.resident_id,
        resident_name=resident.name if detail else mask_name(resident.name),
        resident_tags=list(resident.tags or []) if detail else None,
        community=community.name if community else None,
        plan_type=plan.plan_type,
        plan_label=PLAN_KINDS[plan.plan_type].label,
        frequency=plan.frequency,
        frequency_label=FREQUENCY_LABELS[plan.frequency],
        provider_id=plan.provider_id,
        visitor=visitor.name if visitor else "",
        start_on=plan.start_on,
        active=plan.active,
        note=plan.note,
        next_period_on=plan.next_period_on,
        created_at=plan.created_at,
        visits=visits,
    )


@router.get("/visit-plans/checklists", response_model=list[PlanKindOut])
def checklists(user: CurrentUser) -> list[PlanKindOut]:
    """The plan types, the residents' tags each is for, and their checklists."""
    return [
        PlanKindOut(
            plan_type=t, label=k.label, tags=list(k.tags), item_code=k.item_code, checklist=_checklist(t)
        )
        for t, k in PLAN_KINDS.items()
    ]


@router.post("/visit-plans", status_code=201, response_model=PlanOut)
def create_plan(body: PlanIn, db: Db, ctx: Ctx, user: Manager) -> PlanOut:
    today = ctx.clock.now().astimezone(ctx.tz).date()
    plan = service.create_plan(
        db,
        resident_id=body.resident_id,
        plan_type=body.plan_type,
        frequency=body.frequency,
        provider_id=body.provider_id,
        start_on=body.start_on or today,
        note=body.note,
        actor=user,
        today=today,
    )
    return _plan_out(db, plan, detail=False)


@router.get("/visit-plans", response_model=PlanList)
def list_plans(
    db: Db,
    ctx: Ctx,
    user: Reader,
    page: Page,
    active: bool | None = None,
    provider_id: Id | None = None,
    resident_id: Id | None = None,
) -> PlanList:
    stmt = select(VisitPlan).order_by(VisitPlan.id.desc())
    if active is not None:
        stmt = stmt.where(VisitPlan.active == active)
    if provider_id is not None:
        stmt = stmt.where(VisitPlan.provider_id == provider_id)
    if resident_id is not None:
        stmt = stmt.where(VisitPlan.resident_id == resident_id)
    rows, total = paginate(db, stmt, page)
    seen = [Seen(p.resident_id) for p in rows]
    record_many(db, user, Access.PROFILE, seen, at=ctx.clock.now(), detail="visit plans")
    return PlanList(items=[_plan_out(db, p, detail=False) for p in rows], total=total)


def _month(period: str) -> tuple[date, date]:
    m = PERIOD.match(period)
    if m is None:
        raise BadRequest(
            f"period: {period!r} is not YYYY-MM", code="invalid_period", message="统计月份：格式应为 YYYY-MM"
        )
    year, month = int(m.group(1)), int(m.group(2))
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


@router.get("/visit-plans/coverage", response_model=CoverageOut)
def coverage(
    db: Db,
    ctx: Ctx,
    user: Reader,
    period: Annotated[str | None, Query(max_length=7, description="YYYY-MM")] = None,
    from_: Annotated[date | None, Query(alias="from", description="first day (YYYY-MM-DD)")] = None,
    to: Annotated[date | None, Query(description="the day after the last (YYYY-MM-DD)")] = None,
) -> Any:
    """Planned, done and overdue visits by community and visitor; residents not visited in time."""
    today = ctx.clock.now().astimezone(ctx.tz).date()
    if period is not None:
        start, end = _month(period)
    elif from_ is not None and to is not None:
        start, end = from_, to
    elif from_ is None and to is None:
        start, end = _month(f"{today:%Y-%m}")
    else:
        raise BadRequest(
            "give both from and to, or a period",
            code="invalid_period",
            message="请同时填写开始和结束日期，或填写统计月份",
        )
    if start >= end or (end - start).days > 366:
        raise BadRequest(
            "from must be before to, at most a year apart",
            code="invalid_period",
            message="开始日期须早于结束日期，且相隔不超过一年",
        )
    c = cov.coverage(db, start=start, end=end, today=today, tz=ctx.tz)
    record_many(
        db,
        user,
        Access.PROFILE,
        [Seen(u.resident_id) for u in c.unvisited],
        at=ctx.clock.now(),
        detail="visit coverage",
    )
    out = CoverageOut.model_validate(
        {
            "from": c.start,
            "to": c.end,
            "as_of": c.as_of,
            "total": vars(c.total),
            "by_community": [vars(x) for x in c.by_community],
            "by_visitor": [vars(x) for x in c.by_visitor],
            "unvisited": [vars(u) for u in c.unvisited],
        }
    )
    return JSONResponse(out.model_dump(mode="json", by_alias=True))


@router.get("/visit-plans/{plan_id:int}", response_model=PlanOut)
def get_plan(plan_id: Id, db: Db, ctx: Ctx, user: Reader) -> PlanOut:
    plan = service.get_plan(db, plan_id)
    record(db, user, Access.PROFILE, at=ctx.clock.now(), resident_id=plan.resident_id, detail="visit plan")
    return _plan_out(db, plan, detail=True)


@router.patch("/visit-plans/{plan_id:int}", response_model=PlanOut)
def patch_plan(plan_id: Id, body: PlanPatch, db: Db, user: Manager) -> PlanOut:
    plan = service.update_plan(
        db,
        service.get_plan(db, plan_id),
        frequency=body.frequency,
        provider_id=body.provider_id,
        active=body.active,
        note=body.note,
    )
    return _plan_out(db, plan, detail=False)


def _visible_visits(db: Db, user: User):
    stmt = select(CareVisit)
    scope = provider_scope(db, user)
    if scope is not None:
        stmt = stmt.join(Order, Order.id == CareVisit.order_id).where(
            (Order.provider_id.in_(scope)) | (Order.worker_id.in_(scope))
        )
    return stmt


@router.get("/care-visits", response_model=VisitList)
def list_visits(
    db: Db,
    user: CurrentUser,
    page: Page,
    order_id: Id | None = None,
    plan_id: Id | None = None,
    open_only: Annotated[bool, Query(alias="open", description="only visits without an outcome")] = False,
) -> VisitList:
    """Visits: the call centre sees all; a provider's users the visits on orders they hold or are offered."""
    stmt = _visible_visits(db, user)
    if order_id is not None:
        stmt = stmt.where(CareVisit.order_id == order_id)
    if plan_id is not None:
        stmt = stmt.where(CareVisit.plan_id == plan_id)
    if open_only:
        stmt = stmt.where(CareVisit.outcome.is_(None))
    rows, total = paginate(db, stmt.order_by(CareVisit.due_on, CareVisit.id), page)
    return VisitList(items=[_visit_out(db, v) for v in rows], total=total)


def _may_record(db: Db, user: User, visit: CareVisit) -> None:
    if user.role in CALL_CENTRE:
        return
    scope = provider_scope(db, user) or []
    order = db.get(Order, visit.order_id) if visit.order_id is not None else None
    if order is None or not any(p in scope for p in (order.provider_id, order.worker_id) if p is not None):
        raise Forbidden("this visit is not assigned to you", message="此次探访没有派给您，您不能登记结果")


@router.post("/care-visits/{visit_id}/outcome", response_model=OutcomeOut)
def record_outcome(
    visit_id: Id,
    body: OutcomeIn,
    db: Db,
    ctx: Ctx,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Found well (the checklist), needs found (each need becomes an order), or not at home (the
    next attempt is due the next working day; the third miss in a row alerts the supervisors)."""
    visit = service.get_visit(db, visit_id)
    _may_record(db, user, visit)
    now = ctx.clock.now()

    def work() -> tuple[int, dict[str, Any]]:
        cal = ctx.calendar(db)
        nxt = service.record_outcome(
            db,
            visit,
            outcome=body.outcome,
            answers=body.answers,
            needs=[service.Need(n.item_code, n.description) for n in body.needs],
            note=body.note,
            actor=user,
            now=now,
            services=service.OutcomeServices(
                intake=ctx.intake_services(db), dispatch=ctx.dispatch_context(db), calendar=cal, tz=ctx.tz
            ),
        )
        out = OutcomeOut(visit=_visit_out(db, visit), next_visit=_visit_out(db, nxt) if nxt else None)
        return 200, out.model_dump(mode="json")

    status, payload, replayed = run_once(
        db,
        scope=f"care-visit-outcome:{visit_id}:user:{user.id}",
        key=idempotency_key,
        payload=body.model_dump(mode="json"),
        now=now,
        work=work,
    )
    return JSONResponse(
        payload, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else {}
    )
