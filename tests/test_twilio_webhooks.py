"""Twilio webhooks end to end: requests signed with twilio's own RequestValidator, posted as forms,
TwiML parsed back; the rating-call adapter against a fake Twilio HTTP server."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from sqlalchemy import func, select
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator

from dispatch.outbox import messages
from dispatch.ports import DeliveryError
from dispatch.settings import Settings
from models import (
    Call,
    CallDirection,
    Disposition,
    InboundReceipt,
    Item,
    Order,
    OrderEvent,
    Rating,
    Resident,
    ResidentPhone,
    call_order,
)
from telephony.twilio_calls import TwilioCalls
from tests.factories import SHANGHAI, START, new_order
from tests.support.twilio import (
    ACCOUNT,
    BASE,
    CALL_SID,
    CALLER,
    OUR_NUMBER,
    TOKEN,
    TWILIO,
    FakeTwilioServer,
    connection_refused,
    signed_post,
    twilio_error,
)

pytestmark = pytest.mark.twilio


def make_settings(db_url: str, **twilio: object) -> Settings:
    return Settings(
        database_url=db_url,
        server={"tracking_loop": False, "simulator": False, "cache_check_seconds": 0},
        auth={"jwt_secret": "test-secret-test-secret-test-secret-0123"},
        dispatch={"auto_dispatch": False},
        twilio={**TWILIO, **twilio},
    )


def voice_form(sid: str = CALL_SID, **extra: str) -> dict[str, str]:
    form = {
        "AccountSid": ACCOUNT,
        "CallSid": sid,
        "From": CALLER,
        "To": OUR_NUMBER,
        "Direction": "inbound",
        "CallStatus": "in-progress",
    }
    form.update(extra)
    return form


def voice(client, step: str | None = None, *, sid: str = CALL_SID, query: str = "", **extra: str):
    q = "&".join(p for p in (f"step={step}" if step else "", query) if p)
    r = signed_post(client, "/telephony/twilio/voice", voice_form(sid, **extra), query=q)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/xml")
    return ET.fromstring(r.text)


def status(client, call_status: str, *, sid: str = CALL_SID, **extra: str):
    form = voice_form(sid, CallStatus=call_status, **extra)
    r = signed_post(client, "/telephony/twilio/status", form)
    assert r.status_code == 200, r.text
    return r


def query_of(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE and parts.path == "/telephony/twilio/voice"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def the_call(session_factory, sid: str = CALL_SID) -> Call:
    with session_factory() as s:
        return s.scalars(select(Call).where(Call.external_id == sid)).one()


def counts(session_factory) -> tuple[int, int, int, int]:
    with session_factory() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(t)) for t in (Call, InboundReceipt, Order, Resident)
        )


# --- the signature gate ------------------------------------------------------------------------

PATHS = {
    "/telephony/twilio/voice": voice_form(),
    "/telephony/twilio/status": voice_form(CallStatus="completed", CallDuration="30"),
    "/telephony/twilio/sms": {"MessageSid": "SM" + "2" * 32, "From": CALLER, "To": OUR_NUMBER, "Body": "5"},
}


@pytest.mark.parametrize("path", list(PATHS))
def test_unsigned_requests_are_refused_and_write_nothing(client, session_factory, path) -> None:
    r = client.post(path, data=PATHS[path])
    assert r.status_code == 403
    assert r.json()["error"] == "forbidden" and "X-Twilio-Signature" in r.json()["detail"]
    assert counts(session_factory) == (0, 0, 0, 0)


@pytest.mark.parametrize("path", list(PATHS))
def test_wrong_signatures_are_refused(client, session_factory, path) -> None:
    form = PATHS[path]
    assert signed_post(client, path, form, token="someone-elses-token").status_code == 403
    # Signed for another of our URLs, another host, or other form values: all refused.
    other = "/telephony/twilio/sms" if path != "/telephony/twilio/sms" else "/telephony/twilio/voice"
    assert signed_post(client, path, form, url=BASE + other).status_code == 403
    assert signed_post(client, path, form, url="https://evil.example.org" + path).status_code == 403
    signature = RequestValidator(TOKEN).compute_signature(BASE + path, form)
    tampered = {**form, "From": "+8613999999999"}
    r = client.post(path, data=tampered, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    # The query string is signed too: a step added to a signed URL is refused.
    r = client.post(f"{path}?step=recorded", data=form, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 403
    assert counts(session_factory) == (0, 0, 0, 0)


def test_webhooks_are_404_while_twilio_is_off(db_url, session_factory) -> None:
    from fastapi.testclient import TestClient

    from dispatch.app import create_app

    off = make_settings(db_url, enabled=False)
    with TestClient(create_app(off)) as client:
        for path, form in PATHS.items():
            r = signed_post(client, path, form)
            assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert counts(session_factory) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("path", "query", "form", "field"),
    [
        ("/telephony/twilio/voice", "", {"From": CALLER}, "CallSid"),
        ("/telephony/twilio/voice", "step=dance", voice_form(), "step"),
        ("/telephony/twilio/voice", "step=recorded", voice_form(RecordingUrl="not a url"), "RecordingUrl"),
        ("/telephony/twilio/voice", "step=queued&since=soon", voice_form(QueueResult="bridged"), "since"),
        ("/telephony/twilio/status", "", voice_form(CallStatus="exploded"), "CallStatus"),
        (
            "/telephony/twilio/status",
            "",
            voice_form(CallStatus="completed", CallDuration="-3"),
            "CallDuration",
        ),
        (
            "/telephony/twilio/status",
            "",
            voice_form(CallStatus="completed", Timestamp="yesterday"),
            "Timestamp",
        ),
        ("/telephony/twilio/sms", "", {"From": CALLER, "Body": "5"}, "MessageSid"),
    ],
)
def test_bad_form_data_is_400_and_writes_nothing(client, session_factory, path, query, form, field) -> None:
    r = signed_post(client, path, form, query=query)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "bad_request" and field in r.json()["detail"]
    assert counts(session_factory) == (0, 0, 0, 0)


# --- the phone menu ----------------------------------------------------------------------------


def test_greeting_reads_the_menu_and_records_the_ringing_call(client, world, session_factory) -> None:
    root = voice(client)
    gather = root.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("input") == "dtmf"
    assert query_of(gather.get("action")) == {"step": "menu"}
    say = gather.find("Say")
    assert say.get("language") == "cmn-CN" and say.get("voice") == "Polly.Zhiyu"
    text = say.text
    assert text.startswith("您好，这里是社区服务热线。")
    for phrase in ("养老助老请按1", "家政维修请按2", "特殊群体请按8", "人工服务请按0", "留言请按9"):
        assert phrase in text
    assert "非工作时间" not in text
    # Pressing nothing goes on to the menu step with no digits: an operator.
    redirect = root.find("Redirect")
    assert query_of(redirect.text) == {"step": "menu"}
    call = the_call(session_factory)
    assert (call.source, call.direction, call.caller, call.callee) == (
        "twilio",
        CallDirection.INBOUND,
        CALLER,
        OUR_NUMBER,
    )
    assert call.ended_at is None and call.queue == ""


def test_a_menu_choice_queues_the_caller_for_an_operator(client, world, session_factory, clock) -> None:
    voice(client)
    clock.advance(seconds=12)
    root = voice(client, "menu", Digits="2")
    assert "家政维修" in root.find("Say").text
    enqueue = root.find("Enqueue")
    assert enqueue.text == "sanshe-operators"
    assert query_of(enqueue.get("action")) == {
        "step": "queued",
        "category": "HOME",
        "since": str(int(clock.now().timestamp())),
    }
    call = the_call(session_factory)
    assert call.ivr_digits == "2" and call.queue == "sanshe-operators"

    # An operator takes the call after 20 s in the queue and talks for 3 minutes.
    since = int(clock.now().timestamp())
    clock.advance(seconds=200)
    root = voice(
        client, "queued", query=f"category=HOME&since={since}", QueueResult="bridged", QueueTime="20"
    )
    assert root.find("Hangup") is not None
    status(client, "completed", CallDuration="215")
    call = the_call(session_factory)
    assert call.disposition == Disposition.ANSWERED
    assert call.hold_seconds == 20 and call.talk_seconds == 180
    assert call.answered_at == START + timedelta(seconds=32)
    assert call.ended_at == START + timedelta(seconds=212)
    assert call.started_at == START - timedelta(seconds=3)  # 215 s before the end, as Twilio said


def test_operator_zero_and_silence_go_to_the_queue_and_bad_keys_repeat(
    client, world, session_factory
) -> None:
    assert voice(client, "menu", Digits="0").find("Enqueue").text == "sanshe-operators"
    assert (
        query_of(voice(client, "menu", sid="CA" + "2" * 32).find("Enqueue").get("action"))["step"] == "queued"
    )
    root = voice(client, "menu", sid="CA" + "3" * 32, Digits="#")
    assert "输入有误" in root.find("Say").text and query_of(root.find("Redirect").text) == {}


@pytest.mark.parametrize("twilio_overrides", [{"operator_number": "+8657188880000"}])
def test_dial_mode_rings_the_operator_number(client, world, session_factory, clock) -> None:
    root = voice(client, "menu", Digits="3")
    dial = root.find("Dial")
    assert dial.find("Number").text == "+8657188880000" and dial.get("timeout") == "30"
    q = query_of(dial.get("action"))
    assert q["step"] == "dialed" and q["category"] == "HEALTH"
    clock.advance(seconds=130)  # 10 s ringing, then 120 s talking
    root = voice(
        client, "dialed", query=f"since={q['since']}", DialCallStatus="completed", DialCallDuration="120"
    )
    assert root.find("Hangup") is not None
    status(client, "completed", CallDuration="140", DialCallDuration="120")
    call = the_call(session_factory)
    assert call.disposition == Disposition.ANSWERED
    assert (call.hold_seconds, call.talk_seconds) == (10, 120)


@pytest.mark.parametrize("twilio_overrides", [{"operator_number": "+8657188880000"}])
def test_nobody_answering_offers_a_voicemail(client, world, session_factory) -> None:
    since = int(START.timestamp())
    root = voice(client, "dialed", query=f"category=LEGAL&since={since}", DialCallStatus="no-answer")
    assert "坐席暂时繁忙" in root.find("Say").text
    assert query_of(root.find("Record").get("action")) == {"step": "recorded", "category": "LEGAL"}


def test_out_of_hours_callers_choose_a_category_then_leave_a_voicemail(
    client, world, session_factory, clock
) -> None:
    clock.set(datetime(2025, 11, 12, 22, 30, tzinfo=SHANGHAI))
    greeting = voice(client).find("Gather").find("Say").text
    assert "非工作时间" in greeting and "养老助老请按1" in greeting and "人工服务" not in greeting
    root = voice(client, "menu", Digits="1")
    assert root.find("Enqueue") is None and root.find("Dial") is None
    record = root.find("Record")
    assert query_of(record.get("action")) == {"step": "recorded", "category": "ELDER"}
    assert record.get("maxLength") == "120" and record.get("finishOnKey") == "#"
    assert root.find("Hangup") is not None  # after a silent Record


def recording(client, sid: str = CALL_SID, category: str | None = "ELDER", rec: str = "RE" + "4" * 32):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{rec}"
    query = f"category={category}" if category else ""
    return voice(
        client, "recorded", sid=sid, query=query, RecordingUrl=url, RecordingSid=rec, RecordingDuration="42"
    ), url


def test_a_voicemail_becomes_one_order_linked_to_the_call_and_the_resident(
    client, world, session_factory, clock
) -> None:
    clock.set(datetime(2025, 11, 12, 22, 30, tzinfo=SHANGHAI))
    voice(client)
    voice(client, "menu", Digits="1")
    root, url = recording(client)
    assert "留言已收到" in root.find("Say").text and root.find("Hangup") is not None
    with session_factory() as s:
        [order] = s.scalars(select(Order)).all()
        assert order.channel.value == "ivr" and order.status.value == "received"
        assert url in order.description and "养老助老" in order.description
        assert s.get(Item, order.item_id).code == "ELD-06"
        resident = s.get(Resident, order.resident_id)
        assert [p.e164 for p in resident.phones] == [CALLER]
        call = s.scalars(select(Call)).one()
        assert order.call_id == call.id and call.resident_id == resident.id
        assert s.execute(select(call_order.c.call_id, call_order.c.order_id)).all() == [(call.id, order.id)]
        assert call.recording_url == url and call.disposition == Disposition.VOICEMAIL
        event = s.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)).one()
        assert event.action == "create" and event.actor == "system:ivr" and order.created_by_id is None
    assert order.number[-4:] in root.find("Say").text

    # Twilio retries the callback (our answer was lost): same answer, still one order.
    again, _ = recording(client)
    assert ET.tostring(again) == ET.tostring(root)
    status(client, "completed", CallDuration="80")
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(call_order)) == 1
        assert s.scalars(select(Call)).one().disposition == Disposition.VOICEMAIL


def test_voicemail_key_without_a_category_uses_the_default_item_and_a_known_resident(
    client, world, session_factory
) -> None:
    with session_factory() as s:
        resident = Resident(name="王阿姨", address="阳光花园3幢", tags=[])
        resident.phones.append(ResidentPhone(e164=CALLER, is_primary=True))
        s.add(resident)
        s.commit()
        resident_id = resident.id
    root = voice(client, "menu", Digits="9")
    assert query_of(root.find("Record").get("action")) == {"step": "recorded"}
    recording(client, category=None)
    with session_factory() as s:
        order = s.scalars(select(Order)).one()
        assert s.get(Item, order.item_id).code == "GOV-09" and order.resident_id == resident_id
        assert s.scalar(select(func.count()).select_from(Resident)) == 1


def test_a_withheld_number_keeps_the_voicemail_on_the_call_without_an_order(
    client, world, session_factory
) -> None:
    root = voice(client, "recorded", From="anonymous", RecordingUrl="https://api.twilio.com/r/RE1")
    assert "留言已收到" in root.find("Say").text
    assert the_call(session_factory).recording_url == "https://api.twilio.com/r/RE1"
    assert counts(session_factory)[2] == 0


# --- status callbacks --------------------------------------------------------------------------


def test_retried_status_callbacks_are_counted_once(client, world, session_factory, clock) -> None:
    voice(client)
    voice(client, "menu", Digits="0")
    since = int(clock.now().timestamp())
    clock.advance(seconds=70)
    voice(client, "queued", query=f"since={since}", QueueResult="bridged", QueueTime="10")
    status(client, "completed", CallDuration="70")
    first = the_call(session_factory)
    clock.advance(minutes=5)
    status(client, "completed", CallDuration="70")  # Twilio's retry
    status(client, "completed", CallDuration="999")  # or a confused one: the first one stands
    again = the_call(session_factory)
    assert (again.ended_at, again.talk_seconds, again.hold_seconds, again.disposition) == (
        first.ended_at,
        first.talk_seconds,
        first.hold_seconds,
        Disposition.ANSWERED,
    )
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == 1
        assert s.scalar(select(func.count()).where(InboundReceipt.source == "twilio-status")) == 1


@pytest.mark.parametrize(
    ("call_status", "disposition"),
    [("busy", "missed"), ("no-answer", "missed"), ("failed", "missed"), ("canceled", "abandoned")],
)
def test_unanswered_statuses(client, world, session_factory, call_status, disposition) -> None:
    status(client, call_status)
    call = the_call(session_factory)
    assert (
        call.disposition == Disposition(disposition) and call.talk_seconds == 0 and call.answered_at is None
    )
    assert call.caller == CALLER


def test_hanging_up_in_the_queue_is_abandoned_with_the_wait(client, world, session_factory, clock) -> None:
    voice(client)
    voice(client, "menu", Digits="2")
    since = int(clock.now().timestamp())
    clock.advance(seconds=45)
    assert (
        voice(client, "queued", query=f"since={since}", QueueResult="hangup", QueueTime="45").find("Hangup")
        is not None
    )
    status(client, "completed", CallDuration="60")
    call = the_call(session_factory)
    assert call.disposition == Disposition.ABANDONED and call.hold_seconds == 45 and call.answered_at is None


def test_status_timestamp_is_the_end_time(client, world, session_factory) -> None:
    status(client, "completed", CallDuration="30", Timestamp="Wed, 12 Nov 2025 02:05:00 +0000")
    call = the_call(session_factory)
    assert call.ended_at == datetime(2025, 11, 12, 2, 5, tzinfo=UTC)
    assert call.started_at == datetime(2025, 11, 12, 2, 4, 30, tzinfo=UTC)
    assert call.disposition == Disposition.ABANDONED  # never reached an operator


# --- outbound rating calls ---------------------------------------------------------------------


@pytest.fixture
def completed_order(client, world, operator, session_factory) -> dict:
    order = new_order(client, operator, item_code="GOV-02", description="想咨询低保申请", address=None)
    r = client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "已解答"}, headers=operator)
    assert r.json()["status"] == "completed"
    return order


def rating_call(clock, session_factory, order_id: int) -> tuple[TwilioCalls, FakeTwilioServer, str]:
    """Place the rating call the tracking loop asks for, through TwilioCalls and a fake Twilio."""
    with session_factory() as s:
        message = messages.call(CALLER, kind="call-callback", order_id=order_id, now=clock.now())
        messages.add(s, message)
        s.commit()
        outbox_id = message.id
    server = FakeTwilioServer(created_call())
    calls = TwilioCalls(ACCOUNT, TOKEN, OUR_NUMBER, public_base_url=BASE, http_client=server)
    calls.place_call(CALLER, {"kind": "call-callback", "outbox_id": outbox_id})
    return calls, server, server.requests[0]["data"]["Url"]


OUT_SID = "CA" + "9" * 32


def created_call(sid: str = OUT_SID) -> TwilioResponse:
    body = {"sid": sid, "account_sid": ACCOUNT, "to": CALLER, "from": OUR_NUMBER, "status": "queued"}
    return TwilioResponse(201, json.dumps(body))


def outbound(**extra: str) -> dict[str, str]:
    return {"From": OUR_NUMBER, "To": CALLER, "Direction": "outbound-api", **extra}


def test_a_rating_call_records_the_rating_and_an_outbound_call(
    client, completed_order, session_factory, clock
) -> None:
    _, _, url = rating_call(clock, session_factory, completed_order["id"])
    q = query_of(url)
    status(client, "initiated", sid=OUT_SID, **outbound())
    clock.advance(seconds=8)
    status(client, "in-progress", sid=OUT_SID, **outbound())
    root = voice(client, "rating", sid=OUT_SID, query=f"outbox={q['outbox']}", **outbound())
    gather = root.find("Gather")
    assert (
        "非常满意请按5" in gather.find("Say").text
        and completed_order["number"][-4:] in gather.find("Say").text
    )
    action = query_of(gather.get("action"))
    assert action == {"step": "rated", "order": str(completed_order["id"])}
    clock.advance(seconds=20)
    root = voice(client, "rated", sid=OUT_SID, query=f"order={action['order']}", Digits="4", **outbound())
    assert "感谢您的评价" in root.find("Say").text
    # Twilio retries the request (our answer was lost): still one rating.
    voice(client, "rated", sid=OUT_SID, query=f"order={action['order']}", Digits="4", **outbound())
    clock.advance(seconds=5)
    status(client, "completed", sid=OUT_SID, CallDuration="33", **outbound())
    with session_factory() as s:
        [rating] = s.scalars(select(Rating)).all()
        assert (rating.stars, rating.channel, rating.order_id) == (4, "phone", completed_order["id"])
        order = s.get(Order, completed_order["id"])
        assert order.status.value == "closed" and order.rating_stars == 4
        call = s.scalars(select(Call)).one()
        assert call.direction == CallDirection.OUTBOUND and call.caller == CALLER
        assert call.disposition == Disposition.ANSWERED and call.talk_seconds == 33
        assert call.answered_at == START + timedelta(seconds=8) and call.ivr_digits == "4"


@pytest.mark.parametrize(("key", "reopened"), [("1", True), ("2", False), ("", False)])
def test_an_unsatisfied_rating_by_phone_offers_rework(
    client, completed_order, session_factory, key: str, reopened: bool
) -> None:
    order_query = f"order={completed_order['id']}"
    root = voice(client, "rated", sid=OUT_SID, query=order_query, Digits="2", **outbound())
    gather = root.find("Gather")
    assert "重新上门处理请按1" in gather.find("Say").text
    assert query_of(gather.get("action")) == {"step": "rework", "order": str(completed_order["id"])}
    root = voice(client, "rework", sid=OUT_SID, query=order_query, Digits=key, **outbound())
    assert root.find("Hangup") is not None
    assert ("已为您申请重办" in root.find("Say").text) is reopened
    voice(client, "rework", sid=OUT_SID, query=order_query, Digits=key, **outbound())  # a retry
    with session_factory() as s:
        order = s.get(Order, completed_order["id"])
        assert order.status.value == ("received" if reopened else "closed")
        assert order.reopen_count == int(reopened)
        assert s.scalars(select(Rating.stars)).all() == [2]
    assert the_call(session_factory, OUT_SID).ivr_digits == (key or "2")  # the last keys pressed


def test_a_satisfied_rating_by_phone_ends_the_call(client, completed_order) -> None:
    root = voice(
        client, "rated", sid=OUT_SID, query=f"order={completed_order['id']}", Digits="3", **outbound()
    )
    assert root.find("Gather") is None and "感谢您的评价" in root.find("Say").text


def test_a_bad_key_repeats_the_rating_question(client, completed_order) -> None:
    root = voice(
        client, "rated", sid=OUT_SID, query=f"order={completed_order['id']}", Digits="7", **outbound()
    )
    assert query_of(root.find("Redirect").text) == {"step": "rating", "order": str(completed_order["id"])}


def test_unanswered_rating_call_is_missed_and_outbound(client, world, session_factory) -> None:
    status(client, "initiated", sid=OUT_SID, **outbound())
    status(client, "no-answer", sid=OUT_SID, **outbound())
    call = the_call(session_factory, OUT_SID)
    assert call.direction == CallDirection.OUTBOUND and call.disposition == Disposition.MISSED


# --- TwilioCalls against a fake Twilio ---------------------------------------------------------


def test_twilio_calls_places_the_call_with_our_webhooks() -> None:
    server = FakeTwilioServer(created_call())
    calls = TwilioCalls(
        ACCOUNT, TOKEN, OUR_NUMBER, public_base_url=BASE + "/", http_client=server, ring_seconds=25
    )
    assert calls.place_call(CALLER, {"kind": "call-callback", "outbox_id": 7}) == OUT_SID
    [req] = server.requests
    assert req["method"] == "POST" and req["auth"] == (ACCOUNT, TOKEN)
    assert req["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    data = req["data"]
    assert (data["To"], data["From"], data["Timeout"]) == (CALLER, OUR_NUMBER, 25)
    assert query_of(data["Url"]) == {"step": "rating", "outbox": "7"}
    assert data["StatusCallback"] == f"{BASE}/telephony/twilio/status"
    assert data["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]


@pytest.mark.parametrize(
    ("answer", "permanent", "words"),
    [
        (twilio_error(400, 21211, "The 'To' number is not valid"), True, "21211"),
        (twilio_error(429, 20429, "Too Many Requests"), False, "429"),
        (twilio_error(500, None, "Internal Server Error"), False, "500"),
        (requests.Timeout("read timed out"), False, "did not answer within 10 s"),
        (connection_refused(), False, "cannot reach Twilio"),
    ],
)
def test_twilio_calls_failures_say_whether_to_retry(answer, permanent, words) -> None:
    calls = TwilioCalls(
        ACCOUNT, TOKEN, OUR_NUMBER, public_base_url=BASE, http_client=FakeTwilioServer(answer)
    )
    with pytest.raises(DeliveryError) as info:
        calls.place_call(CALLER, {"kind": "call-callback", "outbox_id": 1})
    assert info.value.permanent is permanent and words in str(info.value)


def test_twilio_calls_needs_a_public_url_and_a_number() -> None:
    with pytest.raises(ValueError, match="public_base_url"):
        TwilioCalls(ACCOUNT, TOKEN, OUR_NUMBER, public_base_url="")
    with pytest.raises(ValueError, match="phone number"):
        TwilioCalls(ACCOUNT, TOKEN, "MG" + "0" * 32, public_base_url=BASE)


@pytest.mark.parametrize(
    ("twilio", "words"),
    [
        ({"menu": {"0": "ELDER"}}, "digits 1-9"),
        ({"menu": {"1": "elder"}}, "not a category code"),
        ({"menu": {"9": "ELDER"}}, "voicemail_digit 9 is also a menu key"),
        ({"voicemail_digit": "#"}, "1-9 or *"),
        ({"operator_number": "0571-8888"}, "E.164"),
        ({"operator_hours": {"mon": [["20:00", "08:00"]]}}, "ends before it starts"),
        ({"operator_hours": {"monday": [["08:00", "20:00"]]}}, "unknown day"),
        ({"voicemail_items": {"ELDER": "eld 06"}}, "ITEM-CODE"),
        ({"public_base_url": "sanshe.example.org"}, "http(s) URL"),
        ({"max_recording_seconds": 5}, "max_recording_seconds"),
    ],
)
def test_twilio_settings_are_checked(twilio, words) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=re.escape(words)):
        Settings(twilio=twilio)


def test_twilio_settings_defaults_and_trailing_slash() -> None:
    cfg = Settings(twilio={"public_base_url": "https://sanshe.example.org/"}).twilio
    assert cfg.public_base_url == "https://sanshe.example.org"
    assert cfg.menu["1"] == "ELDER" and cfg.voicemail_items["ELDER"] == "ELD-06"
    assert Settings(twilio={"operator_hours": {}}).twilio.operator_hours == {}  # around the clock


def test_click_to_call_rings_the_desk_then_dials_the_resident(client, session_factory) -> None:
    from telephony.twilio_calls import TwilioConnector

    desk = "+8657188880000"
    server = FakeTwilioServer(created_call())
    calls = TwilioCalls(ACCOUNT, TOKEN, OUR_NUMBER, public_base_url=BASE, http_client=server)
    connector = TwilioConnector(calls, desk)
    assert connector.connect("", "+8657188881234", {"callback_id": 7}) == OUT_SID
    [request] = server.requests
    assert request["data"]["To"] == desk and request["data"]["From"] == OUR_NUMBER
    q = query_of(request["data"]["Url"])
    assert (q["step"], q["to"], q["callback"]) == ("bridge", "+8657188881234", "7")
    # The desk picks up: Twilio asks for TwiML, and it dials the resident showing our number.
    asked = urlencode({"to": q["to"], "callback": "7"})  # as our URL has it
    root = voice(client, "bridge", sid=OUT_SID, query=asked, **outbound(To=desk))
    dial = root.find("Dial")
    assert dial is not None and dial.get("callerId") == OUR_NUMBER
    assert dial.find("Number").text == "+8657188881234"
    with session_factory() as s:
        assert s.scalar(select(func.count(Call.id))) == 0  # the centre calling its own desk is no call
    bad = signed_post(client, "/telephony/twilio/voice", voice_form(OUT_SID), query="step=bridge&to=12345")
    assert bad.status_code == 400
    with pytest.raises(ValueError, match="operator_number"):
        TwilioConnector(calls, "")
