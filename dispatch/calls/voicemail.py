"""Voicemail -> order: a message left in the phone menu becomes an order for an operator to follow up.

The order goes through ordinary intake (resident matched or created by the caller's number,
deadlines from the item, duplicate check) with channel ``ivr`` and is linked to its call, both by
``order.call_id`` and in ``call_order`` (intake does both). Its item is the one configured for the category the caller
chose in the menu, else a default (a consultation item: an operator listens and reclassifies).
It is not auto-dispatched: nobody knows yet what the message asks for.

One order per call: a retried recording callback finds the order already linked and returns it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.orders.intake import IntakeError, IntakeRequest, IntakeServices, create_order
from dispatch.residents.phones import InvalidPhone, normalise_phone
from models import Call, Category, Channel, Item, Order, call_order

log = logging.getLogger(__name__)

# Who took the request, in the order's timeline: nobody on staff, the phone menu.
ANSWERPHONE = "system:ivr"


@dataclass(frozen=True, slots=True)
class VoicemailRules:
    items: dict[str, str]  # category code -> item code
    default_item: str


def voicemail_order(session: Session, call: Call) -> Order | None:
    return session.scalar(
        select(Order)
        .join(call_order, call_order.c.order_id == Order.id)
        .where(call_order.c.call_id == call.id, Order.channel == Channel.IVR)
        .order_by(Order.id)
        .limit(1)
    )


def _item_code(session: Session, rules: VoicemailRules, category: str | None) -> str:
    wanted = rules.items.get(category or "")
    if wanted and session.scalar(select(Item.id).where(Item.code == wanted, Item.active.is_(True))):
        return wanted
    if wanted:
        log.warning(
            "voicemail item %s for category %s is not in the catalogue; using %s",
            wanted,
            category,
            rules.default_item,
        )
    return rules.default_item


def _description(session: Session, category: str | None, recording_url: str, seconds: int | None) -> str:
    name = session.scalar(select(Category.name_zh).where(Category.code == category)) if category else None
    length = f"{seconds}秒" if seconds is not None else "时长未知"
    return (
        f"【电话留言】菜单选择：{name or '未选择'}。录音（{length}）：{recording_url} 。"
        "请回听录音，补充地址和诉求后处理。"
    )


def order_from_voicemail(
    session: Session,
    call: Call,
    *,
    recording_url: str,
    seconds: int | None,
    category: str | None,
    rules: VoicemailRules,
    region: str,
    now: datetime,
    services: IntakeServices,
) -> Order | None:
    """The call's voicemail order, created on the first call. None when the caller's number cannot
    be read (withheld): the recording stays on the call for operators to hear."""
    existing = voicemail_order(session, call)
    if existing is not None:
        return existing
    try:
        phone = normalise_phone(call.caller, region)
    except InvalidPhone as exc:
        log.info("voicemail on call %s not made an order: %s", call.external_id, exc)
        return None
    request = IntakeRequest(
        phone=phone,
        description=_description(session, category, recording_url, seconds),
        channel=Channel.IVR,
        item_code=_item_code(session, rules, category),
        call_id=call.id,
    )
    try:
        with session.begin_nested():
            # Intake links the order to the call (call_order) and the call to the resident.
            result = create_order(session, request, actor=ANSWERPHONE, now=now, services=services)
    except IntakeError as exc:
        # A catalogue without the configured items: keep the message on the call, tell the logs.
        log.error("voicemail on call %s not made an order: %s", call.external_id, exc)
        return None
    return result.order
