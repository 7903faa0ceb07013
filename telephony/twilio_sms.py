"""Outbound SMS through Twilio's Messages API, as a :class:`dispatch.ports.SmsSender`.

Every failure leaves as :class:`DeliveryError`. Permanent: the number is invalid, unreachable or
not a mobile, the recipient opted out (STOP) or is blocked, the account may not send there, and any
other 4xx — sending the same request again cannot succeed. Temporary: 429 (rate limit), 5xx,
timeouts and connection errors — Twilio did not take the message, or may not have; the outbox
retries it with backoff. A read timeout is the one ambiguous case (Twilio may have accepted the
message before the answer was lost); it is retried, accepting a rare duplicate over a lost message.

Error codes: https://www.twilio.com/docs/api/errors. The 300xx codes are normally reported later,
in delivery status callbacks; they are listed so the same table serves those callbacks too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dispatch.ports import DeliveryError

PERMANENT_CODES: dict[int, str] = {
    20003: "authentication failed: check the account SID and auth token",
    21211: "invalid 'To' phone number",
    21214: "'To' phone number cannot be reached",
    21217: "phone number does not appear to be valid",
    21265: "'To' number is a short code",
    21408: "the account may not send SMS to this region",
    21606: "'From' number cannot send this message",
    21608: "'To' number is not verified (trial account)",
    21610: "the recipient has unsubscribed (replied STOP)",
    21612: "'To' number is not reachable via SMS",
    21614: "'To' number is not a mobile number",
    21635: "'To' number is a landline",
    21661: "'From' number is not SMS-capable",
    30002: "the Twilio account is suspended",
    30003: "destination handset unreachable",
    30004: "message blocked by the recipient or carrier",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "message filtered by the carrier",
}
TEMPORARY_CODES: dict[int, str] = {
    20429: "too many requests",
    20500: "Twilio internal error",
    20503: "Twilio service unavailable",
    30001: "carrier queue overflow",
    30008: "unknown carrier error",
}


def is_permanent(status: int | None, code: int | None) -> bool:
    """Whether Twilio answering with this HTTP status and error code means "never retry"."""
    if code in PERMANENT_CODES:
        return True
    if code in TEMPORARY_CODES:
        return False
    if status is None:
        return False
    return 400 <= status < 500 and status != 429


def rest_error(exc: TwilioRestException | TwilioServiceException) -> DeliveryError:
    status = exc.status
    code = exc.code if exc.code != status else None  # twilio puts the status there when it has no code
    detail = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
    message = f"Twilio HTTP {status}"
    if code is not None:
        known = PERMANENT_CODES.get(code) or TEMPORARY_CODES.get(code)
        message += f" error {code}" + (f" ({known})" if known else "")
    if detail:
        message += f": {detail}"
    return DeliveryError(message, permanent=is_permanent(status, code))


@contextmanager
def twilio_errors(timeout: float) -> Iterator[None]:
    """Turn whatever the twilio client raises into one DeliveryError with ``permanent`` set."""
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as exc:
        raise rest_error(exc) from exc
    except (requests.Timeout, TimeoutError) as exc:
        raise DeliveryError(f"Twilio did not answer within {timeout:g} s", permanent=False) from exc
    except (requests.RequestException, ConnectionError) as exc:
        raise DeliveryError(f"cannot reach Twilio: {exc}", permanent=False) from exc
    except TwilioException as exc:
        raise DeliveryError(f"Twilio client error: {exc}", permanent=False) from exc


class TwilioSms:
    """Sends with ``from_number``: a Twilio number in E.164, or a Messaging Service SID (``MG…``)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        timeout: float = 10,
        http_client: HttpClient | None = None,
    ) -> None:
        if not (account_sid and auth_token and from_number):
            raise ValueError("twilio account_sid, auth_token and from_number are all required")
        self.from_number = from_number
        self.timeout = timeout
        # Without a timeout, requests would wait forever on a stuck connection and hold up the
        # outbox sender; TwilioHttpClient applies it to connect and to each read.
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout)
        )

    def send_sms(self, to: str, body: str) -> str:
        sender = (
            {"messaging_service_sid": self.from_number}
            if self.from_number.startswith("MG")
            else {"from_": self.from_number}
        )
        with twilio_errors(self.timeout):
            message = self.client.messages.create(to=to, body=body, **sender)
        if not message.sid:
            raise DeliveryError("Twilio answered without a message SID", permanent=False)
        return message.sid
