"""TwilioSms against a fake Twilio HTTP server: the real twilio Client builds and parses every
request; only the HttpClient underneath answers from a script."""

from __future__ import annotations

import json

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

from dispatch.ports import DeliveryError
from telephony.twilio_sms import TwilioSms, is_permanent
from tests.support.twilio import FakeTwilioServer, connection_refused, twilio_error

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "auth-token-for-tests"
FROM = "+12025550100"
TO = "+8613812345678"


def created(sid: str = "SM" + "ab" * 16) -> Response:
    body = {"sid": sid, "account_sid": SID, "to": TO, "from": FROM, "status": "queued", "body": "x"}
    return Response(201, json.dumps(body))


def sms(*answers: Response | BaseException, from_number: str = FROM) -> tuple[TwilioSms, FakeTwilioServer]:
    server = FakeTwilioServer(*answers)
    return TwilioSms(SID, TOKEN, from_number, http_client=server), server


def failure(*answers: Response | BaseException) -> DeliveryError:
    sender, _ = sms(*answers)
    with pytest.raises(DeliveryError) as info:
        sender.send_sms(TO, "您的工单已受理")
    return info.value


def test_sends_one_message_and_returns_its_sid() -> None:
    sender, server = sms(created("SM" + "cd" * 16))
    assert sender.send_sms(TO, "您的工单 20261122-0042 已派给 阳光社工站") == "SM" + "cd" * 16
    [req] = server.requests
    assert req["method"] == "POST"
    assert req["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert req["data"] == {"To": TO, "From": FROM, "Body": "您的工单 20261122-0042 已派给 阳光社工站"}
    assert req["auth"] == (SID, TOKEN)


def test_a_messaging_service_sid_is_sent_as_such() -> None:
    service = "MG" + "12" * 16
    sender, server = sms(created(), from_number=service)
    sender.send_sms(TO, "hi")
    assert server.requests[0]["data"] == {"To": TO, "MessagingServiceSid": service, "Body": "hi"}


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (21211, "invalid 'To' phone number"),
        (21610, "unsubscribed"),
        (21614, "not a mobile number"),
        (21408, "region"),
    ],
)
def test_bad_or_unreachable_numbers_fail_permanently(code: int, text: str) -> None:
    error = failure(twilio_error(400, code, "The 'To' number is not valid."))
    assert error.permanent
    assert f"error {code}" in str(error) and text in str(error)
    assert "HTTP 400" in str(error)


def test_other_client_errors_are_permanent() -> None:
    assert failure(twilio_error(404, 20404, "The requested resource was not found")).permanent
    assert failure(twilio_error(401, 20003, "Authenticate")).permanent
    assert failure(Response(400, "<html>bad request</html>")).permanent  # not even JSON


@pytest.mark.parametrize(
    "answer",
    [
        twilio_error(429, 20429, "Too Many Requests"),
        Response(429, ""),
        twilio_error(500, None, "Internal Server Error"),
        twilio_error(503, 20503, "Service Unavailable"),
        Response(502, "<html>Bad Gateway</html>"),
    ],
    ids=["429-code", "429-bare", "500", "503", "502-html"],
)
def test_rate_limits_and_server_errors_are_temporary(answer: Response) -> None:
    error = failure(answer)
    assert not error.permanent
    assert f"HTTP {answer.status_code}" in str(error)


def test_rfc9457_problem_responses_are_mapped_too() -> None:
    problem = {
        "type": "https://www.twilio.com/docs/errors/21211",
        "title": "Invalid To",
        "status": 400,
        "code": 21211,
    }
    error = failure(Response(400, json.dumps(problem)))
    assert error.permanent and "21211" in str(error)
    problem = {
        "type": "https://www.twilio.com/docs/errors/20429",
        "title": "Slow down",
        "status": 429,
        "code": 20429,
    }
    assert not failure(Response(429, json.dumps(problem))).permanent


@pytest.mark.parametrize(
    ("exc", "uncertain"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), True),
        (requests.exceptions.ConnectTimeout("connect timed out"), False),
        (connection_refused(), False),
        (requests.exceptions.ConnectionError("Connection aborted: RemoteDisconnected"), True),
        (TimeoutError("timed out"), True),
    ],
    ids=["read-timeout", "connect-timeout", "connection-refused", "connection-broken", "socket-timeout"],
)
def test_timeouts_and_connection_errors_are_temporary(exc: Exception, uncertain: bool) -> None:
    """Temporary; and uncertain when Twilio may have taken the message before the answer was lost."""
    error = failure(exc)
    assert not error.permanent and error.uncertain is uncertain
    assert isinstance(error.__cause__, type(exc))


def test_the_default_http_client_times_out() -> None:
    sender = TwilioSms(SID, TOKEN, FROM, timeout=7)
    assert isinstance(sender.client.http_client, TwilioHttpClient)
    assert sender.client.http_client.timeout == 7


def test_missing_credentials_are_refused() -> None:
    with pytest.raises(ValueError, match="required"):
        TwilioSms(SID, "", FROM)


def test_classification_table() -> None:
    assert is_permanent(400, 21211)
    assert is_permanent(200, 30005)  # a delivery status callback's error code
    assert not is_permanent(400, 30001)
    assert not is_permanent(429, None)
    assert not is_permanent(500, None)
    assert is_permanent(403, None)
    assert not is_permanent(None, None)
