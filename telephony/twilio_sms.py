"""Outbound SMS through Twilio's Messages API, as a :class:`dispatch.ports.SmsSender`.

Every failure leaves as :class:`DeliveryError`. Permanent: the number is invalid, unreachable or
not a mobile, the recipient opted out (STOP) or is blocked, the account may not send there, and any
other 4xx — sending the same request again cannot succeed. Temporary: 429 (rate limit), 5xx,
connection errors — Twilio did not take the message; the outbox retries it with backoff.
*Uncertain*: a timeout or a connection broken after the request went out — Twilio may have taken
the message before the answer was lost. The outbox does not resend it: it marks it ``uncertain``
and later asks Twilio (:meth:`TwilioSms.find_sent`) whether it exists.

Twilio's Messages API takes no idempotency key and echoes nothing we could attach (the Message
resource has no StatusCallback or custom field), so the lookup identifies our message by what it
does echo: ``to``, our ``from``, the exact body, created from this attempt's claim on. Exactly one
match is ours; none means Twilio never took it (resend); more than one (the same text to the same
number twice in that window) cannot be told apart and stays for an admin.

Error codes: https://www.twilio.com/docs/api/errors. The 300xx codes are normally reported later,
in delivery status callbacks; they are listed so the same table serves those callbacks too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import NameResolutionError, NewConnectionError

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


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Whether the request certainly never reached Twilio (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, NewConnectionError | NameResolutionError)


@contextmanager
def twilio_errors(timeout: float) -> Iterator[None]:
    """Turn whatever the twilio client raises into one DeliveryError with ``permanent`` set, and
    ``uncertain`` when Twilio may have taken the request before the answer was lost."""
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as exc:
        raise rest_error(exc) from exc
    except requests.ConnectionError as exc:
        if _never_connected(exc):
            raise DeliveryError(f"cannot reach Twilio: {exc}", permanent=False) from exc
        raise DeliveryError(
            f"the connection to Twilio broke after the request was sent: {exc}",
            permanent=False,
            uncertain=True,
        ) from exc
    except (requests.Timeout, TimeoutError) as exc:
        raise DeliveryError(
            f"Twilio did not answer within {timeout:g} s", permanent=False, uncertain=True
        ) from exc
    except requests.RequestException as exc:
        raise DeliveryError(f"cannot reach Twilio: {exc}", permanent=False) from exc
    except TwilioException as exc:
        raise DeliveryError(f"Twilio client error: {exc}", permanent=False) from exc


# Twilio's clock and ours may differ a little: look this far before the claim.
CLOCK_SLACK = timedelta(minutes=2)
LOOKUP_LIMIT = 50


def match_one(listed: list[Any], ours: list[Any], *, since: datetime, what: str) -> str | None:
    """Of ``listed`` (Twilio's newest-first listing), the one in ``ours`` created from ``since`` on
    (less the slack): its SID; None when there is certainly none. More than one, or a full listing
    that may not reach back to ``since``, cannot be told apart."""
    start = since - CLOCK_SLACK
    recent = [c.sid for c in ours if c.date_created is not None and c.date_created >= start]
    if len(recent) > 1:
        raise DeliveryError(f"{len(recent)} {what} match; cannot tell which one is ours", permanent=False)
    if recent:
        return recent[0]
    oldest = min((c.date_created for c in listed if c.date_created is not None), default=None)
    if len(listed) >= LOOKUP_LIMIT and (oldest is None or oldest >= start):
        raise DeliveryError(f"too many {what} to look through", permanent=False)
    return None


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

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Our message to ``to`` with ``body`` created from ``since`` on (see the module's doc)."""
        sender = {} if self.from_number.startswith("MG") else {"from_": self.from_number}
        with twilio_errors(self.timeout):
            listed = self.client.messages.list(to=to, limit=LOOKUP_LIMIT, page_size=LOOKUP_LIMIT, **sender)
        ours = [
            m
            for m in listed
            if m.body == body
            and (not self.from_number.startswith("MG") or m.messaging_service_sid == self.from_number)
        ]
        return match_one(listed, ours, since=since, what="messages")
