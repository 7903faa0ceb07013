"""A resident's requests as the resident sees them: plain words, their own steps, no staff names.

- **Whose.** Every order linked to the resident's record, whichever channel filed it (the phone
  too). Another resident's order does not exist for them (a 404 that says nothing more).
- **Status** in plain Chinese (:data:`STATUS_TEXT`).
- **Timeline**: only the steps a resident may see (:data:`STEP_TEXT`): received, who is coming and
  when, arrived, completed, rated, rework, cancelled. Offers, returns, notes, escalations and
  check-outs stay the call centre's; no staff account is named, and a cancellation's reason is
  shown only when the resident gave it (``cancel_data``).
- **Who is coming**: the organisation's name only (``provider_name``; none for an independent
  social worker) and the worker as residents address them, surname and title, never the full
  name: ``王师傅`` for an organisation's worker, ``王社工`` for an independent social worker
  (:func:`worker_form`). Both only once the order is signed for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from dispatch.orders.lifecycle import SATISFACTION, resident_may_reopen
from dispatch.orders.state import Action
from models import (
    Attachment,
    AttachmentKind,
    AttachmentStage,
    Category,
    Item,
    Order,
    OrderEvent,
    OrderStatus,
    Provider,
    ProviderKind,
    Rating,
)

S = OrderStatus
STATUS_TEXT = {
    S.RECEIVED: "已受理",
    S.OFFERED: "正在安排",
    S.ACCEPTED: "已安排服务人员",
    S.IN_SERVICE: "服务人员已到达",
    S.COMPLETED: "已完成",
    S.CLOSED: "已完成",
    S.CANCELLED: "已取消",
}
# A resident may cancel until the visit starts (the worker's check-in).
CANCELLABLE = frozenset({S.RECEIVED, S.OFFERED, S.ACCEPTED})
RATEABLE = frozenset({S.COMPLETED, S.CLOSED})
# Once someone signed for the order, the resident may know who.
SIGNED_FOR = frozenset({S.ACCEPTED, S.IN_SERVICE, S.COMPLETED, S.CLOSED})
# The few two-character surnames still common enough to meet.
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "令狐",
    "慕容",
    "端木",
    "尉迟",
    "公孙",
    "夏侯",
)


def resident_actor(channel: str, phone: str) -> str:
    """How a resident acting in the app is named on the timeline: ``web:+86…`` / ``app:+86…`` (as
    ``sms:+86…``; the call centre's screens mask the number)."""
    return f"{channel}:{phone}"


def worker_form(name: str, *, independent: bool) -> str | None:
    """How a resident addresses the worker: surname + 师傅 (an organisation's worker) or 社工 (an
    independent social worker); None for a name that is not a Chinese personal name."""
    name = "".join(name.split())
    if not name or not ("\u4e00" <= name[0] <= "\u9fff"):
        return None
    surname = name[:2] if name[:2] in COMPOUND_SURNAMES else name[0]
    return surname + ("社工" if independent else "师傅")


def cancel_data(reason: str | None) -> dict[str, object]:
    """The timeline data of a resident's own cancellation: their reason is theirs to see again."""
    return {"by_resident": True, "resident_reason": (reason or "").strip()}


def own_orders(resident_id: int) -> Select[tuple[Order]]:
    """The resident's orders, newest first."""
    return (
        select(Order)
        .where(Order.resident_id == resident_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )


def own_order(session: Session, resident_id: int, order_id: int) -> Order | None:
    return session.scalar(select(Order).where(Order.id == order_id, Order.resident_id == resident_id))


def _when(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


class ResidentViews:
    """``load(orders)`` once per page, then ``summary(order)`` or ``detail(order)``."""

    def __init__(self, session: Session, *, tz: ZoneInfo, now: datetime) -> None:
        self.session = session
        self.tz = tz
        self.now = now
        self.items: dict[int, Item] = {}
        self.categories: dict[int, str] = {}

    def load(self, orders: Sequence[Order]) -> ResidentViews:
        item_ids = {o.item_id for o in orders} - self.items.keys()
        if item_ids:
            self.items |= {i.id: i for i in self.session.scalars(select(Item).where(Item.id.in_(item_ids)))}
        category_ids = {o.category_id for o in orders} - self.categories.keys()
        if category_ids:
            rows = self.session.execute(
                select(Category.id, Category.name_zh).where(Category.id.in_(category_ids))
            )
            self.categories |= {cid: name for cid, name in rows}
        return self

    def summary(self, o: Order) -> dict[str, Any]:
        item = self.items[o.item_id]
        return {
            "id": o.id,
            "number": o.number,
            "status": o.status.value,
            "status_text": STATUS_TEXT[o.status],
            "item_code": item.code,
            "item_name": item.name_zh,
            "category_name": self.categories[o.category_id],
            "description": o.description,
            "address": o.address,
            "created_at": o.created_at,
            "preferred_from": o.preferred_from,
            "preferred_to": o.preferred_to,
        }

    def detail(self, o: Order) -> dict[str, Any]:
        s = self.session
        providers = self._providers(o)
        holder = providers.get(o.provider_id) if o.provider_id and o.status in SIGNED_FOR else None
        worker = providers.get(o.worker_id) if o.worker_id and o.status in SIGNED_FOR else None
        events = list(
            s.scalars(select(OrderEvent).where(OrderEvent.order_id == o.id).order_by(OrderEvent.id))
        )
        photos = s.scalars(
            select(Attachment.id)
            .where(
                Attachment.order_id == o.id,
                Attachment.kind == AttachmentKind.PHOTO,
                Attachment.stage == AttachmentStage.INTAKE,
            )
            .order_by(Attachment.id)
        )
        return {
            **self.summary(o),
            "safety_notice": self.items[o.item_id].notice,
            "provider_name": self._organisation(holder, providers),
            "worker_first_name": self._worker(worker),
            "timeline": self.timeline(o, events, providers),
            "photos": list(photos),
            "can_cancel": o.status in CANCELLABLE,
            "can_rate": o.status in RATEABLE and o.rating_stars is None,
            "can_rework": resident_may_reopen(s, o, self.now),
            "rating": self._rating(o),
        }

    def _providers(self, o: Order) -> dict[int, Provider]:
        """The order's holder and everyone who ever signed for it (their timeline steps), with
        their organisations."""
        ids = {o.provider_id, o.worker_id}
        accepted = select(OrderEvent.data).where(
            OrderEvent.order_id == o.id, OrderEvent.action == Action.ACCEPT
        )
        ids |= {(data or {}).get("provider_id") for data in self.session.scalars(accepted)}
        found = {p.id: p for p in self.session.scalars(select(Provider).where(Provider.id.in_(ids - {None})))}
        parents = {p.organisation_id for p in found.values()} - found.keys() - {None}
        if parents:
            found |= {p.id: p for p in self.session.scalars(select(Provider).where(Provider.id.in_(parents)))}
        return found

    @staticmethod
    def _organisation(holder: Provider | None, providers: dict[int, Provider]) -> str | None:
        if holder is None:
            return None
        if holder.organisation_id is None:
            return holder.name if holder.kind == ProviderKind.ORGANISATION else None
        parent = providers.get(holder.organisation_id)
        return parent.name if parent is not None else None

    @staticmethod
    def _worker(worker: Provider | None) -> str | None:
        if worker is None or worker.kind != ProviderKind.WORKER:
            return None
        return worker_form(worker.name, independent=worker.organisation_id is None)

    def _rating(self, o: Order) -> dict[str, Any] | None:
        if o.rating_stars is None:
            return None
        comment = self.session.scalar(
            select(Rating.comment)
            .where(Rating.order_id == o.id, Rating.stars.is_not(None))
            .order_by(Rating.created_at.desc(), Rating.id.desc())
            .limit(1)
        )
        return {"stars": o.rating_stars, "comment": comment or ""}

    def _coming(self, provider: Provider | None, providers: dict[int, Provider]) -> str:
        if provider is None:
            return "已安排服务人员"
        if provider.kind == ProviderKind.ORGANISATION:
            return f"已安排服务人员：{provider.name}"
        parts = [self._organisation(provider, providers), self._worker(provider)]
        return "已安排服务人员：" + " ".join(p for p in parts if p) if any(parts) else "已安排服务人员"

    def _visit_time(self, o: Order) -> str:
        if o.preferred_from is not None and o.preferred_to is not None:
            return (
                f"，将按您预约的时间上门：{_when(o.preferred_from, self.tz)}–{_when(o.preferred_to, self.tz)}"
            )
        if o.complete_by is not None:
            return f"，将于 {_when(o.complete_by, self.tz)} 前为您完成服务"
        return ""

    def timeline(
        self, o: Order, events: Sequence[OrderEvent], providers: dict[int, Provider]
    ) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = []
        last_accept = max((e.id for e in events if e.action == Action.ACCEPT), default=None)
        for e in events:
            data = e.data or {}
            text: str | None = None
            code = ""
            if e.action == "create":
                code, text = "received", f"您的诉求已受理，工单号 {o.number}"
            elif e.action == Action.ACCEPT:
                code = "dispatched"
                text = self._coming(providers.get(data.get("provider_id")), providers)  # type: ignore[arg-type]
                if e.id == last_accept and o.status in (S.ACCEPTED, S.IN_SERVICE):
                    text += self._visit_time(o)
            elif e.action == Action.CHECK_IN:
                code, text = "arrived", "服务人员已到达"
            elif e.action == Action.COMPLETE:
                code, text = "completed", "服务已完成"
            elif e.action == Action.COMPLETE_DIRECT:
                code, text = "completed", "已为您答复，诉求已办结"
            elif e.action in (Action.CLOSE, "rate") and isinstance(data.get("stars"), int):
                stars = data["stars"]
                code, text = "rated", f"已评价：{stars}星（{SATISFACTION.get(stars, '')}）"
            elif e.action == Action.REOPEN:
                code, text = "rework", "已重新受理（重办），将再次为您安排服务人员"
            elif e.action == Action.CANCEL:
                said = data.get("resident_reason") if data.get("by_resident") else None
                code = "cancelled"
                text = ("您已取消" + (f"：{said}" if said else "")) if data.get("by_resident") else "已取消"
            if text is not None:
                steps.append({"at": e.at, "code": code, "text": text})
        return steps
