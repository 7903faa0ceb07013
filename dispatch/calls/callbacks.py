"""The callback worklist: every missed, abandoned or voicemail call becomes work to return.

Rules (what operators and supervisors see):

- **What opens a callback.** A resident's inbound call that ends *missed* (nobody answered),
  *abandoned* (they hung up while waiting) or *voicemail*, from a number we can call back. A
  withheld number cannot be called back; its recording stays on the call.
- **Repeat calls fold in.** While a number has an open callback, its later inbound calls are
  linked to it (``call.callback_id``) instead of opening another: ``call_count`` grows, and a new
  voicemail's recording replaces the old one. An answered repeat call links too (the operator
  who takes it sees the waiting callback in the screen pop and can close it). One open callback
  per number is guaranteed by a unique partial index, also when two calls end at once.
- **Due time.** ``due_after`` (30 minutes) after the call, counted from the operators' opening
  time when the call came while they were closed: a call at 23:00 is due at 08:30, not at 23:30.
- **Closing.** Every callback closes with an outcome (``CallOutcome``): it became order N, it was
  answered on the phone (咨询已答复), a wrong number, a nuisance call, a duplicate of an open
  order, or unreachable — the last only after ``unreachable_after`` (3) attempts to call back.
  An answered call that made no order gets an outcome code too (``set_call_outcome``).

Nothing here commits; the request or the call ingest owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dispatch import changes
from dispatch.errors import BadRequest, Conflict, NotFound
from dispatch.orders.timeline import record_event
from dispatch.timelimits.hours import WorkingHours, next_open
from models import (
    Call,
    CallbackReason,
    CallbackStatus,
    CallDirection,
    CallOutcome,
    Disposition,
    Order,
    User,
    call_order,
)
from models import Callback as CallbackRow

RETURNED = {
    Disposition.MISSED: CallbackReason.MISSED,
    Disposition.ABANDONED: CallbackReason.ABANDONED,
    Disposition.VOICEMAIL: CallbackReason.VOICEMAIL,
}
NEEDS_ORDER = frozenset({CallOutcome.ORDER, CallOutcome.DUPLICATE})
# Outcomes of an answered call that made no order: calling back does not apply.
CALL_OUTCOMES = frozenset(
    {CallOutcome.ANSWERED, CallOutcome.WRONG_NUMBER, CallOutcome.NUISANCE, CallOutcome.DUPLICATE}
)
OUTCOME_ZH = {
    CallOutcome.ORDER: "已生成工单",
    CallOutcome.ANSWERED: "咨询已答复",
    CallOutcome.WRONG_NUMBER: "打错电话",
    CallOutcome.NUISANCE: "骚扰电话",
    CallOutcome.DUPLICATE: "重复来电",
    CallOutcome.UNREACHABLE: "多次回拨未接通",
}


@dataclass(frozen=True)
class CallbackRules:
    tz: ZoneInfo
    due_after: timedelta = timedelta(minutes=30)
    hours: WorkingHours = field(default_factory=dict)  # the operators' hours; empty: always open
    unreachable_after: int = 3


def note_change(session: Session, callback: CallbackRow) -> None:
    """Tell the call centre's screens (after commit) that the worklist changed."""
    changes.note(
        session,
        "callback",
        callback.id,
        {
            "id": callback.id,
            "status": callback.status.value,
            "reason": callback.reason.value,
            "call_count": callback.call_count,
            "attempts": callback.attempts,
            "outcome": callback.outcome.value if callback.outcome else None,
        },
        changes.CALL_CENTRE,
    )


def due_at(called_at: datetime, rules: CallbackRules) -> datetime:
    return next_open(rules.hours, called_at, rules.tz) + rules.due_after


def open_callback(session: Session, caller: str) -> CallbackRow | None:
    if not caller:
        return None
    return session.scalar(
        select(CallbackRow).where(CallbackRow.caller == caller, CallbackRow.status == CallbackStatus.OPEN)
    )


def on_call(session: Session, call: Call, *, rules: CallbackRules) -> CallbackRow | None:
    """Open or update the callback a call calls for; returns it (None when it calls for none).

    Called by the recorder when a call ends and when a voicemail arrives; calling it again for
    the same call changes nothing (a replayed event).
    """
    if call.direction != CallDirection.INBOUND or not call.caller.startswith("+"):
        return None  # ours, or a number nobody can call back
    if call.callback_id is not None:
        callback = session.get(CallbackRow, call.callback_id)
        if callback is not None and call.recording_url and callback.status == CallbackStatus.OPEN:
            callback.recording_url = call.recording_url
        return callback
    ended = call.ended_at or call.started_at
    waiting = open_callback(session, call.caller)
    if waiting is not None:
        return _fold(session, waiting, call, ended)
    reason = RETURNED.get(call.disposition) if call.disposition is not None else None
    if reason is None or call.ended_at is None:
        return None
    if call.recording_url:
        reason = CallbackReason.VOICEMAIL
    callback = CallbackRow(
        caller=call.caller,
        resident_id=call.resident_id,
        first_call_id=call.id,
        reason=reason,
        recording_url=call.recording_url,
        call_count=1,
        created_at=ended,
        last_call_at=ended,
        due_at=due_at(call.started_at, rules),
        status=CallbackStatus.OPEN,
        attempts=0,
        note="",
    )
    try:
        with session.begin_nested():
            session.add(callback)
    except IntegrityError:  # another call from this number opened one a moment ago: fold in
        waiting = open_callback(session, call.caller)
        if waiting is None:
            raise
        return _fold(session, waiting, call, ended)
    call.callback_id = callback.id
    note_change(session, callback)
    return callback


def _fold(session: Session, callback: CallbackRow, call: Call, ended: datetime) -> CallbackRow:
    call.callback_id = callback.id
    callback.call_count += 1
    callback.last_call_at = max(callback.last_call_at, ended)
    if call.recording_url:
        callback.recording_url = call.recording_url
    if callback.resident_id is None:
        callback.resident_id = call.resident_id
    note_change(session, callback)
    return callback


def get_open(session: Session, callback_id: int) -> CallbackRow:
    callback = session.get(CallbackRow, callback_id)
    if callback is None:
        raise NotFound(f"no callback {callback_id}", message=f"未找到编号为 {callback_id} 的回拨记录")
    if callback.status != CallbackStatus.OPEN:
        raise Conflict(
            f"callback {callback_id} is already closed ({callback.outcome})",
            code="callback_closed",
            message=f"回拨记录 {callback_id} 已处理完毕（{OUTCOME_ZH.get(callback.outcome, callback.outcome)}），请刷新后查看",
        )
    return callback


def record_attempt(session: Session, callback: CallbackRow, *, now: datetime) -> None:
    """An operator called the resident back (whatever the answer)."""
    callback.attempts += 1
    callback.first_attempt_at = callback.first_attempt_at or now
    callback.last_attempt_at = now
    note_change(session, callback)


def _order(session: Session, order_id: int | None, outcome: CallOutcome) -> Order | None:
    if outcome not in NEEDS_ORDER:
        if order_id is not None:
            raise BadRequest(
                f"order_id: the outcome {outcome.value} names no order",
                code="unexpected_order",
                message=f"工单：处理结果为“{OUTCOME_ZH[outcome]}”时不关联工单，请不要选择工单",
            )
        return None
    if order_id is None:
        raise BadRequest(
            f"order_id: the outcome {outcome.value} needs the order",
            code="order_required",
            message=f"工单：处理结果为“{OUTCOME_ZH[outcome]}”时须选择关联的工单",
        )
    order = session.get(Order, order_id)
    if order is None:
        raise BadRequest(
            f"order_id: no order {order_id}",
            code="unknown_order",
            message=f"工单：未找到编号为 {order_id} 的工单",
        )
    return order


def _link_calls(session: Session, order: Order, call_ids: list[int]) -> None:
    linked = set(session.scalars(select(call_order.c.call_id).where(call_order.c.order_id == order.id)))
    rows = [{"call_id": c, "order_id": order.id} for c in call_ids if c not in linked]
    if rows:
        session.execute(insert(call_order), rows)


def close(
    session: Session,
    callback: CallbackRow,
    *,
    outcome: CallOutcome,
    order_id: int | None,
    note: str,
    actor: User,
    now: datetime,
    rules: CallbackRules,
) -> CallbackRow:
    """Close an open callback with its outcome; the calls it gathered are linked to the order it
    became or duplicates, and that order's timeline says so."""
    if callback.status != CallbackStatus.OPEN:
        raise Conflict(
            f"callback {callback.id} is already closed ({callback.outcome})",
            code="callback_closed",
            message=f"回拨记录 {callback.id} 已处理完毕（{OUTCOME_ZH.get(callback.outcome, callback.outcome)}），请刷新后查看",
        )
    if outcome == CallOutcome.UNREACHABLE and callback.attempts < rules.unreachable_after:
        raise Conflict(
            f"call back at least {rules.unreachable_after} times before closing as unreachable "
            f"({callback.attempts} so far)",
            code="too_few_attempts",
            message=f"至少回拨 {rules.unreachable_after} 次后才能按“多次回拨未接通”结束"
            f"（目前已回拨 {callback.attempts} 次）",
        )
    order = _order(session, order_id, outcome)
    if order is not None:
        calls = list(session.scalars(select(Call.id).where(Call.callback_id == callback.id)))
        _link_calls(session, order, calls or [callback.first_call_id])
        if outcome == CallOutcome.DUPLICATE:
            record_event(
                session,
                order,
                action="repeat_call",
                at=now,
                actor=actor,
                note=f"居民再次来电（{callback.call_count}次），已回拨告知办理进度",
                data={"callback_id": callback.id},
            )
    callback.status = CallbackStatus.CLOSED
    callback.outcome = outcome
    callback.order_id = order.id if order is not None else None
    callback.note = note
    callback.closed_at = now
    callback.closed_by_id = actor.id
    session.flush()
    note_change(session, callback)
    return callback


def set_call_outcome(
    session: Session, call: Call, *, outcome: CallOutcome, order_id: int | None, actor: User
) -> Call:
    """How an answered call that made no order ended for the centre."""
    if outcome not in CALL_OUTCOMES:
        raise BadRequest(
            f"outcome: one of {', '.join(sorted(o.value for o in CALL_OUTCOMES))} for a call",
            code="invalid_outcome",
            message=f"处理结果：来电可选 {'、'.join(OUTCOME_ZH[o] for o in sorted(CALL_OUTCOMES))}",
        )
    if call.ended_at is None:
        raise Conflict(
            f"call {call.id} has not ended yet",
            code="call_not_ended",
            message=f"通话 {call.id} 尚未结束，请在通话结束后再记录处理结果",
        )
    order = _order(session, order_id, outcome)
    if order is not None:
        _link_calls(session, order, [call.id])
    call.outcome = outcome.value
    call.outcome_order_id = order.id if order is not None else None
    call.outcome_by_id = actor.id
    session.flush()
    return call
