"""SMS replies: the pure parser, then whole replies through the signed Twilio SMS webhook."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from dispatch.calls.sms_replies import (
    HELP,
    OfferReply,
    RatingReply,
    ReopenReply,
    normalise_text,
    parse_reply,
)
from models import InboundReceipt, Offer, OfferStatus, Order, OrderEvent, OrderStatus, Provider, Rating
from tests.factories import add_provider, new_order
from tests.support.twilio import OUR_NUMBER, signed_post

pytestmark = pytest.mark.twilio

WORKER = "+8613911112222"
RESIDENT = "+8613800138000"  # new_order's caller


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("接0042", OfferReply(True, "0042")),
        (" 接 0042 ", OfferReply(True, "0042")),
        ("接０４２", None),  # three digits: never guess which order was meant
        ("接００４２", OfferReply(True, "0042")),
        ("签收0042", OfferReply(True, "0042")),
        ("接20251112-0042", OfferReply(True, "202511120042")),
        ("接２０２５１１１２－００４２", OfferReply(True, "202511120042")),
        ("接", OfferReply(True, "")),
        ("接。", OfferReply(True, "")),
        ("退0042 今天人手不足", OfferReply(False, "0042", "今天人手不足")),
        ("退００４２　今天人手不足", OfferReply(False, "0042", "今天人手不足")),
        ("退0042：太远了", OfferReply(False, "0042", "太远了")),
        ("退 太远了", OfferReply(False, "", "太远了")),
        ("退 2点前赶不到", OfferReply(False, "", "2点前赶不到")),
        ("退0042", OfferReply(False, "0042", "")),
        ("退订", None),  # not a decline
        ("接受", None),
        ("退00421 原因", None),
        ("1", RatingReply(1)),
        ("５", RatingReply(5)),
        ("5星", RatingReply(5)),
        ("五", RatingReply(5)),
        ("五星", RatingReply(5)),
        ("4 满意", RatingReply(4)),
        ("3分", RatingReply(3)),
        ("6", None),
        ("0", None),
        ("5号楼又漏水了", None),
        ("", None),
        ("你好", None),
        ("重办", ReopenReply()),
        ("申请重办。", ReopenReply()),
        ("重新上门", ReopenReply()),
        ("要求重新处理！", ReopenReply()),
        ("重办0042", None),  # residents are not asked for a number: not this reply
        ("不用重办", None),
    ],
)
def test_parse_reply(text: str, expected: object) -> None:
    assert parse_reply(text) == expected


def test_normalise_text() -> None:
    assert normalise_text("  接\u3000０４２  原因 \n 很远 ") == "接 042 原因 很远"


# --- replies through the webhook ---------------------------------------------------------------

_sids = iter(range(1, 10**6))


def sms(client, body: str, *, sender: str = WORKER, sid: str | None = None) -> str:
    form = {
        "MessageSid": sid or f"SM{next(_sids):032d}",
        "From": sender,
        "To": OUR_NUMBER,
        "Body": body,
    }
    r = signed_post(client, "/telephony/twilio/sms", form)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    messages = ET.fromstring(r.text).findall("Message")
    return messages[0].text if messages else ""


@pytest.fixture
def worker(world, session_factory) -> int:
    return add_provider(session_factory, world, km=0.5, phone=WORKER, name="阳光社工站")


def offered(client, operator, provider_id: int) -> dict:
    order = new_order(client, operator)
    r = client.post(
        f"/api/v1/orders/{order['id']}/dispatch", json={"provider_id": provider_id}, headers=operator
    )
    assert r.status_code == 200 and r.json()["order_status"] == "offered"
    return order


def offer_statuses(session_factory) -> list[str]:
    with session_factory() as s:
        return [o.status.value for o in s.scalars(select(Offer).order_by(Offer.id))]


def order_status(session_factory, order_id: int) -> str:
    with session_factory() as s:
        return s.get(Order, order_id).status.value


def test_worker_signs_for_by_code(client, operator, worker, session_factory) -> None:
    first = offered(client, operator, worker)
    second = offered(client, operator, worker)
    assert first["number"].endswith("-0001") and second["number"].endswith("-0002")
    answer = sms(client, "接0002")
    assert f"已签收工单{second['number']}" in answer and "阳光花园3幢" in answer
    assert order_status(session_factory, second["id"]) == "accepted"
    assert order_status(session_factory, first["id"]) == "offered"
    with session_factory() as s:
        actors = [e.actor for e in s.get(Order, second["id"]).events]
        assert actors[-1] == f"sms:{WORKER}"


def test_worker_signs_for_by_full_number_in_full_width(client, operator, worker, session_factory) -> None:
    order = offered(client, operator, worker)
    offered(client, operator, worker)
    wide = order["number"].translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    assert f"已签收工单{order['number']}" in sms(client, f"接 {wide}")
    assert order_status(session_factory, order["id"]) == "accepted"


def test_a_bare_reply_works_with_exactly_one_offer(client, operator, worker, session_factory) -> None:
    order = offered(client, operator, worker)
    assert f"已签收工单{order['number']}" in sms(client, "接")
    assert order_status(session_factory, order["id"]) == "accepted"


def test_a_bare_reply_with_two_offers_asks_which(client, operator, worker, session_factory) -> None:
    offered(client, operator, worker)
    offered(client, operator, worker)
    answer = sms(client, "接")
    assert "2个待签收工单" in answer and "0001" in answer and "0002" in answer
    assert offer_statuses(session_factory) == ["pending", "pending"]


def test_worker_returns_an_offer_with_a_reason(client, operator, worker, session_factory) -> None:
    order = offered(client, operator, worker)
    answer = sms(client, "退0001")
    assert "说明原因" in answer
    assert offer_statuses(session_factory) == ["pending"]
    answer = sms(client, "退 0001　今天人手不足")
    assert f"已退回工单{order['number']}" in answer
    assert order_status(session_factory, order["id"]) == "received"
    with session_factory() as s:
        offer = s.scalars(select(Offer)).one()
        assert (offer.status, offer.reason) == (OfferStatus.DECLINED, "今天人手不足")
    # Nothing left to answer.
    assert sms(client, "接0001") == "您目前没有待签收的工单。"


def test_unknown_code_and_unknown_sender(client, operator, worker, session_factory) -> None:
    offered(client, operator, worker)
    assert "没有找到" in sms(client, "接0099") and "0099" in sms(client, "接0099")
    assert "未登记为服务人员" in sms(client, "接0001", sender="+8613700000000")
    assert "未登记为服务人员" in sms(client, "接0001", sender="not-a-number")
    assert offer_statuses(session_factory) == ["pending"]


def test_unrecognised_text_gets_the_help(client, worker) -> None:
    assert sms(client, "你好，请问明天几点来？") == HELP
    assert sms(client, "接042") == HELP


@pytest.fixture
def completed(client, world, operator) -> dict:
    order = new_order(client, operator, item_code="GOV-02", description="想咨询低保申请", address=None)
    r = client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "已解答"}, headers=operator)
    assert r.json()["status"] == "completed"
    return order


@pytest.mark.parametrize(("body", "stars"), [("5", 5), ("４", 4), ("五星", 5), ("3 基本满意", 3), ("1", 1)])
def test_resident_rates_the_latest_completed_order(
    client, completed, session_factory, body: str, stars: int
) -> None:
    answer = sms(client, body, sender=RESIDENT)
    assert answer.startswith("感谢您的评价") and completed["number"] in answer and f"{stars}星" in answer
    assert ("尽快联系您" in answer) is (stars <= 2)
    with session_factory() as s:
        rating = s.scalars(select(Rating)).one()
        assert (rating.stars, rating.channel, rating.order_id) == (stars, "sms", completed["id"])
        assert s.get(Order, completed["id"]).status.value == "closed"


def test_nothing_to_rate(client, world, operator, completed) -> None:
    assert "没有待评价的工单" in sms(client, "5", sender="+8613700000000")
    new_order(client, operator, caller_phone="13600136000")  # open, not completed
    assert "没有待评价的工单" in sms(client, "5", sender="+8613600136000")
    assert sms(client, "5", sender=RESIDENT).startswith("感谢您的评价")
    assert "没有待评价的工单" in sms(client, "4", sender=RESIDENT)  # already rated


def test_a_retried_message_is_applied_once(client, completed, session_factory) -> None:
    sid = "SM" + "7" * 32
    assert sms(client, "5", sender=RESIDENT, sid=sid).startswith("感谢您的评价")
    assert sms(client, "5", sender=RESIDENT, sid=sid) == ""  # answered the first time
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 1
        assert s.scalar(select(func.count()).where(InboundReceipt.source == "twilio-sms")) == 1


def test_a_refused_reply_changes_nothing_and_says_why(
    client, operator, worker, session_factory, monkeypatch
) -> None:
    from dispatch.errors import Conflict
    from dispatch.orders import offers

    real_accept = offers.accept

    def accept_then_lose_the_race(session, order, **kw):
        real_accept(session, order, **kw)  # writes the acceptance…
        raise Conflict("this offer was already expired", code="offer_closed")  # …then is refused

    monkeypatch.setattr(offers, "accept", accept_then_lose_the_race)
    order = offered(client, operator, worker)
    assert sms(client, "接0001") == f"工单{order['number']}未能签收：该派单已经处理过。"
    assert offer_statuses(session_factory) == ["pending"]
    assert order_status(session_factory, order["id"]) == "offered"


def test_a_refusal_without_sms_words_of_its_own_says_the_error_s_chinese_message(
    client, completed, session_factory, monkeypatch
) -> None:
    from dispatch.orders import lifecycle

    real_rates = lifecycle.resident_rates

    def rated_meanwhile(session, order, stars, **kw):
        real_rates(session, order, stars, **kw)  # another rating gets there first…
        return real_rates(session, order, stars, **kw)  # …so this one is refused (already_rated)

    monkeypatch.setattr(lifecycle, "resident_rates", rated_meanwhile)
    assert sms(client, "4", sender=RESIDENT) == f"工单{completed['number']}办结后已经评价过，不能重复评价。"
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 0


# --- rework (重办) after an unsatisfied rating -----------------------------------------------------


def test_unsatisfied_resident_gets_rework_by_sms(client, operator, completed, session_factory) -> None:
    answer = sms(client, "2", sender=RESIDENT)
    assert "回复“重办”" in answer
    answer = sms(client, "重办", sender=RESIDENT)
    assert answer == f"已为您申请重办工单{completed['number']}，我们会重新安排服务人员上门，请保持电话畅通。"
    with session_factory() as s:
        order = s.get(Order, completed["id"])
        assert (order.status, order.reopen_count, order.rating_stars) == (OrderStatus.RECEIVED, 1, None)
        event = s.scalars(select(OrderEvent).where(OrderEvent.action == "reopen")).one()
        assert (event.note, event.actor) == ("居民短信要求重办（2星）", f"sms:{RESIDENT}")
    assert "没有可申请重办的工单" in sms(client, "重办", sender=RESIDENT)  # once is enough
    # Done again, the order is rated afresh; both ratings stay.
    r = client.post(
        f"/api/v1/orders/{completed['id']}/complete", json={"note": "已再次解答"}, headers=operator
    )
    assert r.json()["status"] == "completed", r.text
    assert sms(client, "5", sender=RESIDENT).startswith("感谢您的评价")
    with session_factory() as s:
        assert sorted(r.stars for r in s.scalars(select(Rating))) == [2, 5]
        assert s.get(Order, completed["id"]).rating_stars == 5


@pytest.mark.parametrize("stars", ["3", "5"])
def test_no_rework_after_a_satisfied_rating(client, completed, session_factory, stars: str) -> None:
    answer = sms(client, stars, sender=RESIDENT)
    assert "重办" not in answer
    assert "没有可申请重办的工单" in sms(client, "重办", sender=RESIDENT)
    assert order_status(session_factory, completed["id"]) == "closed"


def test_rework_only_within_the_window(client, completed, clock, session_factory) -> None:
    sms(client, "1", sender=RESIDENT)
    clock.advance(days=7, seconds=1)
    assert "没有可申请重办的工单" in sms(client, "重办", sender=RESIDENT)
    assert "没有可申请重办的工单" in sms(client, "重办", sender="+8613700000000")  # not their order
    assert order_status(session_factory, completed["id"]) == "closed"


def test_rework_of_a_home_visit_is_offered_again(client, app, operator, worker, session_factory) -> None:
    order = offered(client, operator, worker)
    app.state.ctx.settings.dispatch.auto_dispatch = True
    assert sms(client, "接0001").startswith("已签收")
    with session_factory() as s:  # the visit itself is the lifecycle tests' business
        row = s.get(Order, order["id"])
        row.status, row.completed_at = OrderStatus.COMPLETED, row.created_at
        s.get(Provider, worker).open_count -= 1  # completion gives the slot back
        s.commit()
    sms(client, "2", sender=RESIDENT)
    assert sms(client, "重办", sender=RESIDENT).startswith("已为您申请重办")
    assert order_status(session_factory, order["id"]) == "offered"
    assert offer_statuses(session_factory) == ["accepted", "pending"]
