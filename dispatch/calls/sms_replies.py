"""SMS replies: workers sign for or return offers, residents rate completed orders and ask for rework.

The offer SMS (``offers.offer_sms``) asks for "接0042" to sign for and "退0042 原因" to return an
offer (the last four digits of the order number); the completion SMS asks residents for a digit
1-5. People type these on phones in every width and spacing, so the text is NFKC-normalised first
(full-width digits, letters and punctuation become ASCII) and spaces are optional. A bare "接" or
"退 原因" is understood when the worker has exactly one pending offer; a whole order number
(20261122-0042) works too. A resident who rated 1–2 stars is told they may reply "重办" to have the
order redone, within ``RESIDENT_REOPEN_WINDOW`` of the rating.

Parsing is pure (:func:`parse_reply`); :func:`apply_reply` looks up the sender and applies the
reply through the same domain functions the HTTP actions use, each inside a savepoint so a refused
reply changes nothing. It returns the Chinese text to answer with; it never commits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from dispatch.errors import AppError
from dispatch.orders import lifecycle, offers
from dispatch.orders.offers import DispatchContext
from dispatch.residents import repository as residents
from models import Item, Offer, OfferStatus, Order, OrderStatus, Provider

HELP = (
    "回复说明：服务人员回复“接+工单号后4位”签收（如：接0042），“退+工单号后4位 原因”退单"
    "（如：退0042 今天人手不足）；居民回复数字1-5评价服务：5非常满意 4满意 3基本满意 2不满意 1非常不满意；"
    "评价不满意的，回复“重办”可申请重新上门处理。"
)

_ACCEPT_WORDS = ("接单", "签收", "接")
_DECLINE_WORDS = ("退单", "拒单", "拒绝", "退")
_SEP = r"[\s:;,.!?。、]*"  # after NFKC: full-width ：，！？ are ASCII already
_OFFER = re.compile(
    r"^(?P<verb>" + "|".join(_ACCEPT_WORDS + _DECLINE_WORDS) + r")"
    rf"(?P<sep>{_SEP})(?:(?P<code>\d{{8}}-?\d{{4,5}}|\d{{4}})(?!\d))?{_SEP}(?P<rest>.*)$",
    re.S,
)
# What looks like a mistyped order code at the start of the text ("接042", "退00421 原因").
_STRAY_CODE = re.compile(r"^[\d-]+(\s|$)")
_REOPEN = re.compile(r"^(?:申请|要求|请)?(?:重办|重新办理|重新处理|重新上门|重做|返工)[\s.!。！]*$")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_RATING = re.compile(
    r"^(?P<n>[1-5一二三四五])\s*(?:颗星|星|分)?\s*(?:非常满意|基本满意|非常不满意|不满意|满意)?[\s.!。！]*$"
)


# Refusals a text message says otherwise than the error's own Chinese ``message``, which is
# written for the console (it names the state to refresh, or the offer's current status).
_REFUSALS = {
    "no_offer": "该工单已不在待签收状态（可能已超时、撤销或改派）",
    "offer_closed": "该派单已经处理过",
    "invalid_transition": "工单状态刚刚发生了变化",
}


def _refused(order: Order, doing: str, exc: AppError) -> str:
    """The answer to a refused reply: why, in the words above or the error's ``message``, with
    the order named once ("工单20261122-0042未能签收：…。")."""
    why = _REFUSALS.get(exc.code) or exc.message.rstrip("。")
    return f"{why}。" if order.number in why else f"工单{order.number}未能{doing}：{why}。"


@dataclass(frozen=True, slots=True)
class OfferReply:
    accept: bool
    code: str  # "" (bare), the last four digits, or the whole number's digits
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RatingReply:
    stars: int


@dataclass(frozen=True, slots=True)
class ReopenReply:
    """重办: the resident wants their latest unsatisfactory order redone."""


Reply = OfferReply | RatingReply | ReopenReply


def normalise_text(text: str) -> str:
    """Full-width to ASCII (NFKC), runs of whitespace to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def parse_reply(text: str) -> Reply | None:
    """What the text asks for, or None when it is not a reply this service understands."""
    clean = normalise_text(text)
    rating = _RATING.match(clean)
    if rating:
        n = rating["n"]
        return RatingReply(int(n) if n.isdigit() else _CHINESE_DIGITS[n])
    if _REOPEN.match(clean):
        return ReopenReply()
    match = _OFFER.match(clean)
    if match is None:
        return None
    accept = match["verb"] in _ACCEPT_WORDS
    code = (match["code"] or "").replace("-", "")
    rest = match["rest"].strip()
    if _STRAY_CODE.match(rest):
        return None  # a code of the wrong length: never guess which order was meant
    if rest and not code and not match["sep"]:
        return None  # "退订", "接受…": a word that merely starts like a reply
    if accept:
        return OfferReply(True, code) if not any(c.isdigit() for c in rest) else None
    return OfferReply(False, code, rest[:300])


@dataclass
class ReplyServices:
    """Built only when a reply needs it: a return or a 重办 may dispatch the order again."""

    dispatch_context: Callable[[], DispatchContext]


def apply_reply(session: Session, *, sender: str, text: str, now: datetime, services: ReplyServices) -> str:
    """Apply one SMS from ``sender`` (E.164, or "" when the number could not be read); returns the
    answer to send back."""
    reply = parse_reply(text)
    if reply is None:
        return HELP
    if isinstance(reply, RatingReply):
        return _rate(session, sender, reply.stars, now, services)
    if isinstance(reply, ReopenReply):
        return _reopen(session, sender, now, services)
    return _answer_offer(session, sender, reply, now, services)


def _short(order: Order) -> str:
    return order.number[-4:]


def _pending_offers(session: Session, provider_ids: list[int]) -> list[tuple[Offer, Order]]:
    rows = session.execute(
        select(Offer, Order)
        .join(Order, Order.id == Offer.order_id)
        .where(
            Offer.provider_id.in_(provider_ids),
            Offer.status == OfferStatus.PENDING,
            Order.status == OrderStatus.OFFERED,
        )
        .order_by(Offer.offered_at, Offer.id)
    ).all()
    return [(offer, order) for offer, order in rows]


def _choose(pending: list[tuple[Offer, Order]], code: str) -> tuple[Order | None, str]:
    """The one order the reply means, or None and the answer explaining why not."""
    if not pending:
        return None, "您目前没有待签收的工单。"
    orders = [order for _, order in pending]
    if not code:
        if len(orders) == 1:
            return orders[0], ""
        codes = "、".join(_short(o) for o in orders)
        return (
            None,
            f"您有{len(orders)}个待签收工单（尾号{codes}），请在“接”或“退”后加工单号后4位，如：接{_short(orders[0])}。",
        )
    if len(code) == 4:
        found = [o for o in orders if o.number.endswith(code)]
    else:
        found = [o for o in orders if o.number.replace("-", "") == code]
    if len(found) > 1:
        return None, f"尾号{code}对应多个待签收工单，请回复完整工单号，如：接{found[0].number}。"
    if not found:
        return None, f"没有找到工单号（尾号）为{code}的待签收工单，请核对后重新回复。"
    return found[0], ""


def _answer_offer(
    session: Session, sender: str, reply: OfferReply, now: datetime, services: ReplyServices
) -> str:
    provider_ids = (
        list(session.scalars(select(Provider.id).where(Provider.phone == sender))) if sender else []
    )
    if not provider_ids:
        return "本号码未登记为服务人员，无法签收或退单；如有疑问请联系社区服务中心。"
    order, why_not = _choose(_pending_offers(session, provider_ids), reply.code)
    if order is None:
        return why_not
    if not reply.accept and not reply.reason:
        return f"退单请说明原因，如：退{_short(order)} 今天人手不足。"
    actor = f"sms:{sender}"
    try:
        with session.begin_nested():
            if reply.accept:
                offers.accept(session, order, now=now, actor=actor)
            else:
                offers.return_offer(
                    session,
                    order,
                    now=now,
                    actor=actor,
                    reason=reply.reason,
                    expired=False,
                    ctx=services.dispatch_context(),
                )
    except AppError as exc:
        session.refresh(order)
        return _refused(order, "签收" if reply.accept else "退单", exc)
    if not reply.accept:
        return f"已退回工单{order.number}，原因：{reply.reason}。"
    item = session.get_one(Item, order.item_id)
    return f"已签收工单{order.number}（{item.name_zh}），地址：{order.address or '见工单'}。请按时上门服务。"


def _senders_orders(session: Session, sender: str) -> ColumnElement[bool]:
    """The orders the sender called in, or of the resident the number belongs to."""
    resident = residents.by_phone(session, sender, with_phones=False)
    mine = Order.caller_phone == sender
    return or_(mine, Order.resident_id == resident.id) if resident is not None else mine


def _latest_unrated(session: Session, sender: str) -> Order | None:
    return session.scalar(
        select(Order)
        .where(
            _senders_orders(session, sender),
            Order.status == OrderStatus.COMPLETED,
            Order.rating_stars.is_(None),
        )
        .order_by(Order.completed_at.desc(), Order.id.desc())
        .limit(1)
    )


def _latest_unsatisfied(session: Session, sender: str) -> Order | None:
    return session.scalar(
        select(Order)
        .where(_senders_orders(session, sender), Order.status == OrderStatus.CLOSED, Order.rating_stars <= 2)
        .order_by(Order.closed_at.desc(), Order.id.desc())
        .limit(1)
    )


def _rate(session: Session, sender: str, stars: int, now: datetime, services: ReplyServices) -> str:
    order = _latest_unrated(session, sender) if sender else None
    if order is None:
        return "您目前没有待评价的工单。如需服务请拨打社区服务热线。"
    try:
        with session.begin_nested():
            lifecycle.resident_rates(session, order, stars, channel="sms", now=now, actor=f"sms:{sender}")
    except AppError as exc:
        session.refresh(order)
        return _refused(order, "评价", exc)
    label = lifecycle.SATISFACTION[stars]
    follow_up = (
        f"我们会尽快联系您了解情况；如需重新上门处理，请在{lifecycle.RESIDENT_REOPEN_WINDOW.days}天内回复“重办”。"
        if stars <= 2
        else ""
    )
    return f"感谢您的评价！工单{order.number}：{label}（{stars}星）。{follow_up}"


def _reopen(session: Session, sender: str, now: datetime, services: ReplyServices) -> str:
    order = _latest_unsatisfied(session, sender) if sender else None
    if order is None or not lifecycle.resident_may_reopen(session, order, now):
        days = lifecycle.RESIDENT_REOPEN_WINDOW.days
        return f"您目前没有可申请重办的工单（评价为不满意后{days}天内可回复“重办”）。如需服务请拨打社区服务热线。"
    try:
        with session.begin_nested():
            lifecycle.resident_reopen(
                session, order, via="短信", now=now, actor=f"sms:{sender}", ctx=services.dispatch_context()
            )
    except AppError as exc:
        session.refresh(order)
        return _refused(order, "重办", exc)
    return f"已为您申请重办工单{order.number}，我们会重新安排服务人员上门，请保持电话畅通。"
