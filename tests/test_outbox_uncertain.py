"""Outbox honesty: an SMS or call whose outcome is unknown is never resent blindly. A fake Twilio
over real HTTP takes the message and answers only after the client's timeout; the row becomes
uncertain, is looked up and found; a Twilio that never stored it gets it once, on reconciliation.
A send killed mid-request (claim expired): uncertain for SMS and calls, resent for notices."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from dispatch.outbox import messages
from dispatch.outbox.adapters import RecordingCalls, RecordingConnector, RecordingNotifier, RecordingSms
from dispatch.outbox.sender import DEFAULT_CLAIM_TIMEOUT, RECONCILE_AFTER, SendReport, send_due
from dispatch.ports import Adapters, Recipient
from models import OutboxMessage, OutboxStatus, Role
from telephony.twilio_calls import TwilioCalls
from telephony.twilio_sms import TwilioSms
from tests.support.twilio import ACCOUNT, BASE, OUR_NUMBER, TOKEN
from tests.support.twilio_http import FakeTwilioHttp

RESIDENT = "+8613900000002"
TIMEOUT = 0.5  # the client's; the fake holds its answer until the test ends


@pytest.fixture
def twilio() -> Iterator[FakeTwilioHttp]:
    fake = FakeTwilioHttp()
    yield fake
    fake.close()


def twilio_adapters(fake: FakeTwilioHttp) -> Adapters:
    sms = TwilioSms(ACCOUNT, TOKEN, OUR_NUMBER, timeout=TIMEOUT, http_client=fake.client(TIMEOUT))
    calls = TwilioCalls(
        ACCOUNT, TOKEN, OUR_NUMBER, public_base_url=BASE, timeout=TIMEOUT, http_client=fake.client(TIMEOUT)
    )
    return Adapters(
        sms=sms,
        calls=calls,
        notifier=RecordingNotifier(),
        connector=RecordingConnector(),
        sms_lookup=sms,
        call_lookup=calls,
    )


def enqueue(factory, message: OutboxMessage) -> int:
    with factory() as s:
        messages.add(s, message)
        s.commit()
        return message.id


def send(factory, now: datetime, adapters: Adapters) -> SendReport:
    with factory() as s:
        return send_due(s, now=now, adapters=adapters)


def row(factory, message_id: int) -> OutboxMessage:
    with factory() as s:
        return s.get_one(OutboxMessage, message_id)


def test_a_timed_out_sms_twilio_took_is_found_not_resent(session_factory, twilio) -> None:
    adapters = twilio_adapters(twilio)
    t0 = datetime.now(UTC)
    sms_id = enqueue(
        session_factory, messages.sms(RESIDENT, "请为本次服务评分，回复1-5", kind="rating", now=t0)
    )
    twilio.hold_next()
    assert send(session_factory, t0, adapters) == SendReport(uncertain=1)
    stored = row(session_factory, sms_id)
    assert stored.status == OutboxStatus.UNCERTAIN and "outcome unknown" in stored.last_error
    assert len(twilio.messages) == 1  # Twilio has it; we do not know

    assert send(session_factory, t0 + timedelta(seconds=30), adapters) == SendReport()  # not resent
    assert send(session_factory, t0 + RECONCILE_AFTER, adapters) == SendReport(reconciled=1)
    stored = row(session_factory, sms_id)
    assert stored.status == OutboxStatus.SENT and stored.external_id == twilio.messages[0]["sid"]
    assert twilio.creates == 1 and len(twilio.messages) == 1
    assert send(session_factory, t0 + timedelta(hours=1), adapters) == SendReport()


def test_a_timed_out_sms_twilio_never_stored_is_sent_once_on_reconciliation(session_factory, twilio) -> None:
    adapters = twilio_adapters(twilio)
    t0 = datetime.now(UTC)
    # The same text to the same number earlier that day does not count: it is before the claim.
    twilio.messages.append(
        {
            "sid": "SM" + "0" * 32,
            "to": RESIDENT,
            "from": OUR_NUMBER,
            "body": "新工单",
            "parent_call_sid": None,
            "messaging_service_sid": None,
            "date_created": "Mon, 01 Jan 2024 08:00:00 GMT",
        }
    )
    sms_id = enqueue(session_factory, messages.sms(RESIDENT, "新工单", kind="offer", now=t0))
    twilio.lose_next()
    assert send(session_factory, t0, adapters) == SendReport(uncertain=1)
    assert len(twilio.messages) == 1
    assert send(session_factory, t0 + RECONCILE_AFTER, adapters) == SendReport(sent=1, reconciled=1)
    stored = row(session_factory, sms_id)
    assert stored.status == OutboxStatus.SENT and stored.attempts == 2
    assert stored.external_id == twilio.messages[1]["sid"] and twilio.creates == 2
    assert [m["body"] for m in twilio.messages] == ["新工单", "新工单"]  # the old one, then ours once


def test_the_same_text_twice_in_the_window_stays_for_an_admin(session_factory, twilio) -> None:
    adapters = twilio_adapters(twilio)
    t0 = datetime.now(UTC)
    sms_id = enqueue(session_factory, messages.sms(RESIDENT, "您的工单已受理", kind="test", now=t0))
    twilio.hold_next()
    send(session_factory, t0, adapters)
    twilio.messages.append(dict(twilio.messages[0], sid="SM" + "f" * 32))  # sent by someone else
    assert send(session_factory, t0 + RECONCILE_AFTER, adapters) == SendReport()
    stored = row(session_factory, sms_id)
    assert stored.status == OutboxStatus.UNCERTAIN and "cannot tell which one is ours" in stored.last_error
    assert twilio.creates == 1


def test_a_timed_out_call_is_found_by_its_number_and_time(session_factory, twilio) -> None:
    adapters = twilio_adapters(twilio)
    t0 = datetime.now(UTC)
    call_id = enqueue(session_factory, messages.call(RESIDENT, kind="call-callback", order_id=None, now=t0))
    twilio.hold_next()
    assert send(session_factory, t0, adapters) == SendReport(uncertain=1)
    assert send(session_factory, t0 + RECONCILE_AFTER, adapters) == SendReport(reconciled=1)
    assert row(session_factory, call_id).external_id == twilio.calls[0]["sid"] and twilio.creates == 1


def test_sends_killed_mid_request_are_uncertain_but_notices_are_resent(session_factory, twilio) -> None:
    t0 = datetime.now(UTC)
    ids = {
        "sms": enqueue(session_factory, messages.sms(RESIDENT, "新工单", kind="offer", now=t0)),
        "call": enqueue(
            session_factory, messages.call(RESIDENT, kind="call-callback", order_id=None, now=t0)
        ),
        "notice": enqueue(
            session_factory, messages.notice(Recipient.user(9), "新工单", kind="offer", now=t0)
        ),
    }
    with session_factory() as s:  # claimed by a sender that was then killed
        s.execute(
            update(OutboxMessage)
            .values(
                external_id="claim:dead",
                attempts=1,
                claimed_at=t0,
                next_attempt_at=t0 + DEFAULT_CLAIM_TIMEOUT,
            )
            .execution_options(synchronize_session=False)
        )
        s.commit()
    recording = Adapters(
        sms=RecordingSms(),
        calls=RecordingCalls(),
        notifier=RecordingNotifier(),
        connector=RecordingConnector(),
    )
    later = t0 + DEFAULT_CLAIM_TIMEOUT
    assert send(session_factory, later, recording) == SendReport(sent=1, uncertain=2)
    assert [d.payload["outbox_id"] for d in recording.notifier.delivered] == [ids["notice"]]
    assert recording.sms.delivered == [] and recording.calls.delivered == []
    assert row(session_factory, ids["sms"]).status == OutboxStatus.UNCERTAIN
    assert row(session_factory, ids["call"]).status == OutboxStatus.UNCERTAIN
    # Without a lookup (the log, Asterisk) they stay for an admin; Twilio's says neither was sent.
    assert send(session_factory, later + timedelta(hours=1), recording) == SendReport()
    adapters = twilio_adapters(twilio)
    assert send(session_factory, later + timedelta(hours=1), adapters) == SendReport(sent=2, reconciled=2)
    assert twilio.creates == 2 and len(twilio.messages) == 1 and len(twilio.calls) == 1
    assert row(session_factory, ids["sms"]).status == OutboxStatus.SENT


def test_admins_list_resend_and_drop_uncertain_messages(client, login, session_factory) -> None:
    t0 = datetime.now(UTC)
    first = enqueue(session_factory, messages.sms(RESIDENT, "一", kind="offer", now=t0))
    second = enqueue(session_factory, messages.sms(RESIDENT, "二", kind="offer", now=t0))
    sent = enqueue(session_factory, messages.sms(RESIDENT, "三", kind="offer", now=t0))
    with session_factory() as s:
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([first, second]))
            .values(status=OutboxStatus.UNCERTAIN, last_error="attempt 1: outcome unknown", claimed_at=t0)
            .execution_options(synchronize_session=False)
        )
        s.commit()
    admin = login(Role.ADMIN)
    listed = client.get("/api/v1/outbox", params={"status": "uncertain"}, headers=admin)
    assert listed.status_code == 200 and listed.json()["total"] == 2
    assert [m["id"] for m in listed.json()["items"]] == [first, second]
    assert (
        listed.json()["items"][0] | {"body": "一", "channel": "sms", "kind": "offer"}
        == listed.json()["items"][0]
    )

    r = client.post(f"/api/v1/outbox/{first}/resend", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "pending" and "resent by" in r.json()["last_error"]
    r = client.post(f"/api/v1/outbox/{second}/drop", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "dropped"
    again = client.post(f"/api/v1/outbox/{second}/resend", headers=admin)
    assert again.status_code == 409 and again.json()["error"] == "not_uncertain"
    assert client.post(f"/api/v1/outbox/{sent}/drop", headers=admin).status_code == 409
    missing = client.post("/api/v1/outbox/99999/drop", headers=admin)
    assert missing.status_code == 404 and {"error", "detail", "message"} <= set(missing.json())
    assert client.get("/api/v1/outbox", params={"status": "lost"}, headers=admin).status_code == 422
    assert client.get("/api/v1/outbox", headers=admin).json()["total"] == 0
    for role in (Role.SUPERVISOR, Role.OPERATOR, Role.WORKER):
        assert client.get("/api/v1/outbox", headers=login(role)).status_code == 403
        assert client.post(f"/api/v1/outbox/{first}/drop", headers=login(role)).status_code == 403
