"""Visit plans and their visits: create and change a plan, make the visits that fall due (the
tracking loop's job), and record what a visit found.

A visit is an order: the job files it through the one intake path (channel ``visit``, the plan
type's consult-class catalogue item), due at the end of its working day, and offers it to the
plan's visitor. Services never commit; the request or the job runner owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch.catalogue.csvio import read_catalogue
from dispatch.catalogue.service import import_catalogue
from dispatch.errors import AppError, BadRequest, Conflict, NotFound
from dispatch.orders.intake import IntakeError, IntakeRequest, IntakeServices, create_order
from dispatch.orders.lifecycle import complete
from dispatch.orders.offers import DispatchContext, dispatch_order, offer_if_auto
from dispatch.orders.timeline import record_event
from dispatch.outbox import messages
from dispatch.ports import Recipient
from dispatch.residents.phones import Phone
from dispatch.residents.privacy import mask_name
from dispatch.timelimits.calendar import WorkCalendar
from dispatch.visits.plans import (
    FREQUENCY_LABELS,
    MISSES_TO_ESCALATE,
    PLAN_KINDS,
    due_on,
    next_period,
    period_index,
    period_start,
)
from models import (
    Area,
    CareVisit,
    Channel,
    Frequency,
    Item,
    Order,
    OrderStatus,
    PlanType,
    Provider,
    ProviderStatus,
    Resident,
    ResidentPhone,
    Supervision,
    User,
    VisitOutcome,
    VisitPlan,
)

log = logging.getLogger(__name__)
VISIT_ITEMS = Path(__file__).parent / "data" / "visit_items.csv"
SUPERVISORS = Recipient.role("supervisor")
SYSTEM = "system:visits"
BATCH = 500  # plans per tick; the rest wait for the next tick
MAX_NEEDS = 10


def ensure_visit_items(session: Session) -> int:
    """Add the 定期探访 catalogue items (``data/visit_items.csv``) where they are missing; returns
    how many were added. Kept out of the 120-item catalogue file so a catalogue import neither
    needs nor removes them; an item an admin has since edited is left as it is."""
    rows = read_catalogue(VISIT_ITEMS)
    have = set(session.scalars(select(Item.code).where(Item.code.in_([r.item_code for r in rows]))))
    missing = [r for r in rows if r.item_code not in have]
    if missing:
        import_catalogue(session, missing)
    return len(missing)


def _primary_phone(session: Session, resident_id: int) -> Phone | None:
    row = session.execute(
        select(ResidentPhone.e164, ResidentPhone.kind)
        .where(ResidentPhone.resident_id == resident_id)
        .order_by(ResidentPhone.is_primary.desc(), ResidentPhone.id)
        .limit(1)
    ).first()
    return Phone(row.e164, row.kind) if row is not None else None


def get_plan(session: Session, plan_id: int) -> VisitPlan:
    plan = session.get(VisitPlan, plan_id)
    if plan is None:
        raise NotFound(f"no visit plan {plan_id}", message=f"没有编号为 {plan_id} 的探访计划")
    return plan


def _visitor(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound(f"no provider {provider_id}", message=f"未找到编号为 {provider_id} 的服务方（探访人）")
    if provider.status != ProviderStatus.ACTIVE:
        raise Conflict(
            f"{provider.name} is suspended",
            code="provider_suspended",
            message=f"{provider.name}已暂停接单，请选择其他探访人",
        )
    return provider


def create_plan(
    session: Session,
    *,
    resident_id: int,
    plan_type: PlanType,
    frequency: Frequency,
    provider_id: int,
    start_on: date,
    note: str,
    actor: User,
    today: date,
) -> VisitPlan:
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFound(f"no resident {resident_id}", message=f"未找到编号为 {resident_id} 的居民")
    kind = PLAN_KINDS[plan_type]
    if not set(kind.tags).intersection(resident.tags or []):
        raise BadRequest(
            f"resident {resident_id} carries none of the tags a {plan_type.value} plan is for: {kind.tags}",
            code="resident_not_eligible",
            message=f"该居民没有“{'、'.join(kind.tags)}”标签，不能制定{kind.label}计划",
        )
    if start_on < today:
        raise BadRequest(
            "start_on: a plan cannot start in the past", code="start_in_past", message="开始日期不能早于今天"
        )
    _visitor(session, provider_id)
    if _primary_phone(session, resident_id) is None:
        raise BadRequest(
            f"resident {resident_id} has no phone number: a visit order needs one",
            code="resident_without_phone",
            message="该居民没有登记电话，请先补充联系电话再制定探访计划",
        )
    same = session.scalar(
        select(VisitPlan.id).where(
            VisitPlan.resident_id == resident_id, VisitPlan.plan_type == plan_type, VisitPlan.active
        )
    )
    if same is not None:
        raise Conflict(
            f"resident {resident_id} already has an active {plan_type.value} plan ({same})",
            code="plan_exists",
            message=f"该居民已有进行中的{kind.label}计划（编号 {same}），请修改该计划",
        )
    ensure_visit_items(session)
    plan = VisitPlan(
        resident_id=resident_id,
        plan_type=plan_type,
        frequency=frequency,
        provider_id=provider_id,
        start_on=start_on,
        active=True,
        note=note,
        created_by_id=actor.id,
        next_period_on=start_on,
    )
    session.add(plan)
    session.flush()
    return plan


def update_plan(
    session: Session,
    plan: VisitPlan,
    *,
    frequency: Frequency | None,
    provider_id: int | None,
    active: bool | None,
    note: str | None,
) -> VisitPlan:
    """Change how often, who, or pause/resume. Visits already made stay as they are; a resumed
    plan starts again with the period it is in (``make_due_visits``)."""
    if provider_id is not None:
        _visitor(session, provider_id)
        plan.provider_id = provider_id
    if frequency is not None and frequency != plan.frequency:
        # Periods now run from the start of the next one the old frequency would have had.
        plan.start_on = plan.next_period_on
        plan.frequency = frequency
    if active is not None:
        plan.active = active
    if note is not None:
        plan.note = note
    session.flush()
    return plan


@dataclass(frozen=True)
class JobContext:
    intake: IntakeServices
    dispatch: DispatchContext
    calendar: WorkCalendar
    tz: ZoneInfo
    lead_days: int


def end_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def make_due_visits(session: Session, *, now: datetime, jc: JobContext) -> int:
    """For every active plan, the visits of the periods that begin within ``lead_days``: a
    ``care_visit`` and its order, offered to the plan's visitor. Safe to run twice and on several
    instances: the unique (plan, period, attempt) lets one visit per period exist, and a plan's
    ``next_period_on`` moves past each period made."""
    today = now.astimezone(jc.tz).date()
    horizon = today + timedelta(days=jc.lead_days)
    plans = list(
        session.scalars(
            select(VisitPlan)
            .where(VisitPlan.active, VisitPlan.next_period_on <= horizon)
            .order_by(VisitPlan.next_period_on, VisitPlan.id)
            .limit(BATCH)
        )
    )
    made = 0
    for plan in plans:
        # A plan paused (or a loop stopped) over whole periods starts again with the current one.
        current = period_start(
            plan.start_on, plan.frequency, period_index(plan.start_on, plan.frequency, today)
        )
        if plan.next_period_on < current:
            plan.next_period_on = current
        while plan.next_period_on <= horizon:
            period_on = plan.next_period_on
            try:
                with session.begin_nested():
                    if _make_visit(session, plan, period_on, now=now, today=today, jc=jc):
                        made += 1
            except AppError as exc:  # bad data on this plan (the item was disabled …): the others go on
                log.warning("visit plan %s: no visit for %s: %s", plan.id, period_on, exc.detail)
                break
            plan.next_period_on = next_period(plan.start_on, plan.frequency, period_on)
    session.flush()
    return made


def _make_visit(
    session: Session, plan: VisitPlan, period_on: date, *, now: datetime, today: date, jc: JobContext
) -> bool:
    visit = CareVisit(
        plan_id=plan.id,
        period_on=period_on,
        due_on=due_on(period_on, today, jc.calendar),
        attempt=1,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(visit)
            session.flush()
    except IntegrityError:  # made already (another instance, a retried tick)
        return False
    order = _visit_order(session, plan, visit, now=now, jc=jc)
    visit.order_id = order.id
    session.flush()
    return True


def _visit_order(
    session: Session, plan: VisitPlan, visit: CareVisit, *, now: datetime, jc: JobContext
) -> Order:
    ensure_visit_items(session)
    kind = PLAN_KINDS[plan.plan_type]
    phone = _primary_phone(session, plan.resident_id)
    if phone is None:
        raise BadRequest(
            f"resident {plan.resident_id} has no phone number",
            code="resident_without_phone",
            message="该居民没有登记电话，无法生成探访工单",
        )
    req = IntakeRequest(
        phone=phone,
        description=(
            f"{kind.label}（{FREQUENCY_LABELS[plan.frequency]}，第{visit.attempt}次上门）："
            f"{visit.due_on:%m月%d日}前往探访，按清单逐项核实"
        ),
        channel=Channel.VISIT,
        item_code=kind.item_code,
    )
    try:
        result = create_order(session, req, actor=SYSTEM, now=now, services=jc.intake)
    except IntakeError as exc:
        raise BadRequest(str(exc), code=exc.code, message=exc.message) from None
    order = result.order
    # Due at the end of the visit's working day, not the consult class's 3 working days from now.
    order.complete_by = end_of(visit.due_on, jc.tz)
    record_event(
        session,
        order,
        action="visit_planned",
        at=now,
        actor=SYSTEM,
        note=f"定期探访计划{plan.id}：{visit.period_on:%Y-%m-%d}期，应于{visit.due_on:%m月%d日}上门",
        data={
            "plan_id": plan.id,
            "period_on": visit.period_on.isoformat(),
            "due_on": visit.due_on.isoformat(),
        },
    )
    try:
        with session.begin_nested():
            dispatch_order(
                session, order, ctx=jc.dispatch, now=now, actor=SYSTEM, provider_id=plan.provider_id
            )
    except AppError as exc:  # the visitor is full or suspended: the order waits for the call centre
        record_event(session, order, action="visit_not_offered", at=now, actor=SYSTEM, note=exc.message)
    return order


# --- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    item_code: str
    description: str


@dataclass(frozen=True)
class OutcomeServices:
    intake: IntakeServices
    dispatch: DispatchContext
    calendar: WorkCalendar
    tz: ZoneInfo


def get_visit(session: Session, visit_id: int) -> CareVisit:
    visit = session.get(CareVisit, visit_id)
    if visit is None:
        raise NotFound(f"no care visit {visit_id}", message=f"没有编号为 {visit_id} 的探访记录")
    return visit


def record_outcome(
    session: Session,
    visit: CareVisit,
    *,
    outcome: VisitOutcome,
    answers: dict[str, bool],
    needs: list[Need],
    note: str,
    actor: User,
    now: datetime,
    services: OutcomeServices,
) -> CareVisit | None:
    """Record what the visit found; returns the next attempt a miss schedules (else None).

    ``well`` and ``needs_found`` complete the visit order; each need becomes an order of its own
    through intake (channel ``visit``). ``not_home`` schedules the next attempt for the next
    working day on the same order, and the third miss in a row alerts the supervisors, naming the
    community, and puts the visit order on red supervision. Everything is checked before
    anything is written, so a refusal changes nothing."""
    plan = visit.plan
    kind = PLAN_KINDS[plan.plan_type]
    if visit.outcome is not None:
        raise Conflict(
            f"care visit {visit.id} already has an outcome ({visit.outcome.value})",
            code="outcome_recorded",
            message="此次探访已登记结果，不能重复登记",
        )
    codes = {c.code for c in kind.checklist}
    unknown = sorted(set(answers) - codes)
    if unknown:
        raise BadRequest(
            f"answers: unknown checklist items {unknown}; this plan's are {sorted(codes)}",
            code="unknown_checklist_item",
            message=f"探访清单中没有这些项目：{'、'.join(unknown)}",
        )
    if outcome == VisitOutcome.NEEDS_FOUND and not needs:
        raise BadRequest(
            "needs: list at least one need found",
            code="needs_required",
            message="发现需求时请至少填写一项需求",
        )
    if outcome != VisitOutcome.NEEDS_FOUND and needs:
        raise BadRequest(
            "needs: only a needs_found outcome lists needs",
            code="needs_not_expected",
            message="只有“发现需求”才能填写需求",
        )
    if len(needs) > MAX_NEEDS:
        raise BadRequest(
            f"needs: at most {MAX_NEEDS}", code="too_many_needs", message=f"一次最多登记 {MAX_NEEDS} 项需求"
        )
    order = session.get_one(Order, visit.order_id) if visit.order_id is not None else None
    if outcome != VisitOutcome.NOT_HOME and order is not None and order.status == OrderStatus.OFFERED:
        raise Conflict(
            f"order {order.number} is offered: the visitor signs for it first",
            code="visit_not_accepted",
            message=f"探访工单{order.number}尚未签收，请探访人先签收再登记结果",
        )

    visit.outcome, visit.answers, visit.note = outcome, dict(answers), note
    visit.recorded_by_id, visit.recorded_at = actor.id, now
    if outcome == VisitOutcome.NOT_HOME:
        session.flush()
        return _missed(session, visit, order, actor=actor, now=now, services=services)
    found: list[dict[str, object]] = []
    for need in needs:
        found.append(_need_order(session, visit, order, need, actor=actor, now=now, services=services))
    visit.needs = found
    session.flush()
    if order is not None and order.status in (
        OrderStatus.RECEIVED,
        OrderStatus.ACCEPTED,
        OrderStatus.IN_SERVICE,
    ):
        summary = (
            "探访完成，情况良好"
            if outcome == VisitOutcome.WELL
            else f"探访完成，发现{len(found)}项需求，已转工单"
        )
        complete(
            session,
            order,
            note=(summary + (f"；{note}" if note else ""))[:500],
            now=now,
            actor=actor,
            cal=services.calendar,
        )
    return None


def _need_order(
    session: Session,
    visit: CareVisit,
    order: Order | None,
    need: Need,
    *,
    actor: User,
    now: datetime,
    services: OutcomeServices,
) -> dict[str, object]:
    plan = visit.plan
    phone = _primary_phone(session, plan.resident_id)
    if phone is None:
        raise BadRequest(
            f"resident {plan.resident_id} has no phone number",
            code="resident_without_phone",
            message="该居民没有登记电话，无法转为工单",
        )
    req = IntakeRequest(
        phone=phone,
        description=need.description,
        channel=Channel.VISIT,
        item_code=need.item_code,
    )
    try:
        result = create_order(session, req, actor=actor, now=now, services=services.intake)
    except IntakeError as exc:
        raise BadRequest(f"needs: {exc}", code=exc.code, message=f"需求：{exc.message}") from None
    new = result.order
    source = f"（探访工单{order.number}）" if order is not None else ""
    record_event(
        session,
        new,
        action="visit_need",
        at=now,
        actor=actor,
        note=f"定期探访发现的需求{source}",
        data={"care_visit_id": visit.id, "visit_order_id": order.id if order else None},
    )
    offer_if_auto(session, new, ctx=services.dispatch, now=now, excluded=())
    if order is not None:
        record_event(
            session,
            order,
            action="visit_need_filed",
            at=now,
            actor=actor,
            note=f"发现需求，已转工单{new.number}",
        )
    return {
        "item_code": result.item.code,
        "description": need.description,
        "order_id": new.id,
        "number": new.number,
    }


def _missed(
    session: Session,
    visit: CareVisit,
    order: Order | None,
    *,
    actor: User,
    now: datetime,
    services: OutcomeServices,
) -> CareVisit:
    today = now.astimezone(services.tz).date()
    nxt = CareVisit(
        plan_id=visit.plan_id,
        period_on=visit.period_on,
        due_on=services.calendar.next_working_day(today),
        attempt=visit.attempt + 1,
        order_id=visit.order_id,
        created_at=now,
    )
    session.add(nxt)
    session.flush()
    if order is None:
        return nxt
    if order.status in (
        OrderStatus.RECEIVED,
        OrderStatus.OFFERED,
        OrderStatus.ACCEPTED,
        OrderStatus.IN_SERVICE,
    ):
        order.complete_by = end_of(nxt.due_on, services.tz)
        order.next_check_at = now
    record_event(
        session,
        order,
        action="visit_not_home",
        at=now,
        actor=actor,
        note=f"第{visit.attempt}次上门未遇，已安排{nxt.due_on:%m月%d日}再次探访",
        data={"attempt": visit.attempt, "next_due_on": nxt.due_on.isoformat()},
    )
    misses = visit.attempt  # every earlier attempt of this period was a miss too
    if misses >= MISSES_TO_ESCALATE:
        _alert(session, visit, order, misses=misses, now=now)
    session.flush()
    return nxt


def _alert(session: Session, visit: CareVisit, order: Order, *, misses: int, now: datetime) -> None:
    plan = visit.plan
    resident = session.get_one(Resident, plan.resident_id)
    community = session.get(Area, resident.community_id) if resident.community_id else None
    where = community.name if community is not None else "（未定社区）"
    kind = PLAN_KINDS[plan.plan_type]
    text = (
        f"探访预警：{where}居民{mask_name(resident.name)}（{kind.label}）已连续{misses}次上门未遇，"
        f"工单{order.number}已升级为红牌督办，请社区立即联系核实其安全"
    )
    key = f"visit-missed:{plan.id}:{visit.period_on.isoformat()}:{misses}"
    if not messages.add(
        session,
        messages.notice(
            SUPERVISORS,
            text,
            kind="visit_missed",
            now=now,
            order_id=order.id,
            dedupe_key=key,
            community_id=resident.community_id,
            community=where,
            plan_id=plan.id,
        ),
    ):
        return
    if order.supervision != Supervision.RED and order.status in (
        OrderStatus.RECEIVED,
        OrderStatus.OFFERED,
        OrderStatus.ACCEPTED,
        OrderStatus.IN_SERVICE,
    ):
        order.supervision, order.overdue = Supervision.RED, True
    record_event(
        session,
        order,
        action="escalate",
        at=now,
        actor="system",
        note=f"红牌：连续{misses}次上门未遇，已通知督办和{where}",
        data={"level": "red", "reason": "visit_missed", "misses": misses},
    )
