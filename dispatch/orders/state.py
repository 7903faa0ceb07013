"""The order lifecycle as a table (pure: no database, no I/O).

received → offered → accepted → in_service → completed → closed, and cancelled; see DESIGN.md.
Supervision level, overdue and extension are attributes, not states.
"""

from __future__ import annotations

import enum

from models import OPEN_STATUSES, OrderStatus

S = OrderStatus


class Action(enum.StrEnum):
    OFFER = "offer"  # dispatch: an offer goes to a provider
    ACCEPT = "accept"  # the provider signs for it (签收)
    DECLINE = "decline"  # the provider returns it (退单)
    EXPIRE = "expire"  # nobody signed for it in time
    CHECK_IN = "check_in"  # the worker is at the door
    COMPLETE = "complete"  # 办结 after the service
    COMPLETE_DIRECT = "complete_direct"  # 直接办结 on the call (a consultation), no dispatch
    CLOSE = "close"  # callback/rating arrived or the callback window passed
    REOPEN = "reopen"  # 重办: the resident is not satisfied
    CANCEL = "cancel"  # 撤销
    WITHDRAW = "withdraw"  # a supervisor takes an offer back (收回), to give it to someone else


TRANSITIONS: dict[Action, tuple[frozenset[OrderStatus], OrderStatus]] = {
    Action.OFFER: (frozenset({S.RECEIVED}), S.OFFERED),
    Action.ACCEPT: (frozenset({S.OFFERED}), S.ACCEPTED),
    Action.DECLINE: (frozenset({S.OFFERED}), S.RECEIVED),
    Action.EXPIRE: (frozenset({S.OFFERED}), S.RECEIVED),
    Action.CHECK_IN: (frozenset({S.ACCEPTED}), S.IN_SERVICE),
    Action.COMPLETE: (frozenset({S.ACCEPTED, S.IN_SERVICE}), S.COMPLETED),
    Action.COMPLETE_DIRECT: (frozenset({S.RECEIVED}), S.COMPLETED),
    Action.CLOSE: (frozenset({S.COMPLETED}), S.CLOSED),
    Action.REOPEN: (frozenset({S.COMPLETED, S.CLOSED}), S.RECEIVED),
    Action.CANCEL: (frozenset(OPEN_STATUSES), S.CANCELLED),
    Action.WITHDRAW: (frozenset({S.OFFERED}), S.RECEIVED),
}

# Actions that change no status, and the statuses they apply to.
URGEABLE = frozenset({S.OFFERED, S.ACCEPTED, S.IN_SERVICE})  # 督办: someone holds or is offered it
EXTENDABLE = frozenset(OPEN_STATUSES)  # 延期: the complete-by deadline still matters
RATEABLE = frozenset({S.COMPLETED, S.CLOSED})  # a rating or a callback outcome
# 离开现场: after the check-in, while in service or once completed at the door.
CHECKOUTABLE = frozenset({S.IN_SERVICE, S.COMPLETED})

LABELS_ZH = {
    S.RECEIVED: "已受理",
    S.OFFERED: "待签收",
    S.ACCEPTED: "已签收",
    S.IN_SERVICE: "服务中",
    S.COMPLETED: "已办结",
    S.CLOSED: "已归档",
    S.CANCELLED: "已撤销",
}


# The actions as a person says them ("不能签收").
ACTION_LABELS_ZH = {
    Action.OFFER: "派单",
    Action.ACCEPT: "签收",
    Action.DECLINE: "退单",
    Action.EXPIRE: "超时退回",
    Action.CHECK_IN: "上门签到",
    Action.COMPLETE: "办结",
    Action.COMPLETE_DIRECT: "直接办结",
    Action.CLOSE: "归档",
    Action.REOPEN: "重办",
    Action.CANCEL: "撤销",
    Action.WITHDRAW: "收回派单",
}


class IllegalTransition(Exception):
    def __init__(self, action: Action, current: OrderStatus) -> None:
        sources = TRANSITIONS[action][0]
        allowed = ", ".join(sorted(s.value for s in sources))
        super().__init__(
            f"cannot {action.value.replace('_', ' ')} an order that is {current.value} "
            f"({LABELS_ZH[current]}); allowed from: {allowed}"
        )
        self.action = action
        self.current = current
        verb = ACTION_LABELS_ZH[action]
        allowed_zh = "、".join(f"“{LABELS_ZH[s]}”" for s in S if s in sources)
        # Said of "the order" (工单…): the caller puts its number in front.
        self.message = f"当前为“{LABELS_ZH[current]}”，不能{verb}（{allowed_zh}的工单才能{verb}）"


def next_status(action: Action, current: OrderStatus) -> OrderStatus:
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise IllegalTransition(action, current)
    return target


def allowed_actions(current: OrderStatus) -> list[Action]:
    return [a for a, (sources, _) in TRANSITIONS.items() if current in sources]
