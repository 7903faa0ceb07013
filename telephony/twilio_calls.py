"""Outbound rating-callback calls through Twilio's Calls API, as a :class:`dispatch.ports.CallPlacer`.

Twilio fetches the call's TwiML from our voice webhook (``?step=rating``: "press 1-5") and reports
its progress to the status webhook, so the call is recorded (direction outbound) like any other.
The outbox row's id travels in the URL; the webhook finds the order from it.

Failures leave as :class:`DeliveryError` with the SMS adapter's error table (``twilio_sms``): a
rejected number is permanent, rate limits, 5xx and connection errors are temporary, a timeout is
uncertain (Twilio may have placed the call) and looked up with :meth:`TwilioCalls.find_sent`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dispatch.ports import DeliveryError
from telephony.twilio_sms import LOOKUP_LIMIT, match_one, twilio_errors

WEBHOOK_PREFIX = "/telephony/twilio"
VOICE_PATH = f"{WEBHOOK_PREFIX}/voice"
STATUS_PATH = f"{WEBHOOK_PREFIX}/status"
SMS_PATH = f"{WEBHOOK_PREFIX}/sms"
# Outbound calls report every stage, so ringing and answer times are known, not only the end.
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


def callback_url(base_url: str, path: str, **query: object) -> str:
    """An absolute webhook URL; Twilio signs exactly this string, query included."""
    params = {key: str(value) for key, value in query.items() if value not in (None, "")}
    return base_url.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")


class TwilioCalls:
    """Places calls from ``from_number`` (a Twilio voice number in E.164)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        *,
        public_base_url: str,
        timeout: float = 10,
        ring_seconds: int = 30,
        http_client: HttpClient | None = None,
    ) -> None:
        if not (account_sid and auth_token and from_number):
            raise ValueError("twilio account_sid, auth_token and from_number are all required")
        if not from_number.startswith("+"):
            raise ValueError(f"calls need a phone number to call from, not {from_number!r}")
        if not public_base_url.startswith(("https://", "http://")):
            raise ValueError("calls need [twilio] public_base_url: Twilio fetches the call's TwiML there")
        self.from_number = from_number
        self.base_url = public_base_url
        self.timeout = timeout
        self.ring_seconds = ring_seconds
        self.client = Client(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=timeout)
        )

    def place_call(self, to: str, payload: dict[str, Any]) -> str:
        url = callback_url(
            self.base_url,
            VOICE_PATH,
            step="rating",
            order=payload.get("order_id"),
            outbox=payload.get("outbox_id"),
        )
        return self.create(
            to,
            url,
            status_callback=callback_url(self.base_url, STATUS_PATH),
            status_callback_event=STATUS_EVENTS,
            status_callback_method="POST",
        )

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """Our call to ``to`` created from ``since`` on: as for SMS (``twilio_sms``), by what the
        Calls API echoes — ``to``, our ``from`` and the creation time (``body`` plays no part);
        the legs a ``<Dial>`` makes (they have a parent call) are not ours."""
        with twilio_errors(self.timeout):
            listed = self.client.calls.list(
                to=to, from_=self.from_number, limit=LOOKUP_LIMIT, page_size=LOOKUP_LIMIT
            )
        ours = [c for c in listed if not c.parent_call_sid]
        return match_one(listed, ours, since=since, what="calls")

    def create(self, to: str, url: str, **options: Any) -> str:
        """One call through the Calls API whose TwiML Twilio fetches from ``url``; its SID."""
        with twilio_errors(self.timeout):
            call = self.client.calls.create(
                to=to, from_=self.from_number, url=url, method="POST", timeout=self.ring_seconds, **options
            )
        if not call.sid:
            raise DeliveryError("Twilio answered without a call SID", permanent=False)
        return call.sid


class TwilioConnector:
    """Click-to-call through Twilio: calls the operators' desk number (``[twilio] operator_number``)
    and, when it is answered, bridges it to the resident (the voice webhook's ``step=bridge``
    answers with ``<Dial>``), showing the centre's number to the resident."""

    via = "twilio"

    def __init__(self, calls: TwilioCalls, operator_number: str) -> None:
        if not operator_number:
            raise ValueError("click-to-call through Twilio needs [twilio] operator_number")
        self.calls = calls
        self.operator_number = operator_number

    def connect(self, extension: str, to: str, payload: dict[str, Any]) -> str:
        url = callback_url(
            self.calls.base_url, VOICE_PATH, step="bridge", to=to, callback=payload.get("callback_id")
        )
        return self.calls.create(self.operator_number, url)
