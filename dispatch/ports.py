"""The outside systems the domain talks to, as small Protocols.

Adapters (Twilio, Asterisk, the simulator, in-memory fakes) implement them; ``dispatch/app.py`` picks
which ones run. Every adapter turns its vendor's failures into :class:`DeliveryError`, so the outbox
sender decides "retry later" or "give up" from one flag instead of knowing every vendor's exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol


class DeliveryError(Exception):
    """A message could not be delivered.

    ``permanent`` means trying again cannot help (invalid or unreachable number, recipient opted out,
    request rejected); otherwise the failure is temporary (rate limit, provider outage, timeout).
    ``uncertain`` means the provider may have taken the message all the same (it timed out or the
    connection broke after the request went out): SMS and calls are then not resent blindly but
    looked up (:class:`SentLookup`) or left for an admin.
    """

    def __init__(self, message: str, *, permanent: bool, uncertain: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.uncertain = uncertain and not permanent

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, permanent={self.permanent}, uncertain={self.uncertain})"


class SmsSender(Protocol):
    def send_sms(self, to: str, body: str) -> str:
        """Send one text message to an E.164 number; returns the provider's message id."""
        ...


class SentLookup(Protocol):
    """Asks the provider whether a send whose outcome is unknown went through."""

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The provider's id of what we sent to ``to`` (an SMS with exactly ``body``; for calls
        ``body`` is ignored) from ``since`` on, or None when the provider certainly has none.
        Raises DeliveryError when it cannot tell (unreachable, or more than one candidate)."""
        ...


class CallPlacer(Protocol):
    def place_call(self, to: str, payload: dict[str, Any]) -> str:
        """Start an outbound call (rating callbacks); returns the provider's call id.

        ``payload`` says what the call is for (order id, kind) and carries ``outbox_id``, so a
        status callback can be tied back to the outbox row.
        """
        ...


class CallConnector(Protocol):
    """Click-to-call: ring an operator's phone first, then connect it to a resident's number."""

    via: str  # "asterisk", "twilio" or "log": how the call goes, said to the operator

    def connect(self, extension: str, to: str, payload: dict[str, Any]) -> str:
        """Start the call; returns the provider's call id. ``extension`` is the operator's (may be
        empty where the adapter rings a fixed desk number). Raises DeliveryError when the call
        cannot be placed (``permanent`` as for messages)."""
        ...


class Notifier(Protocol):
    def notify(self, recipient: Recipient, body: str, payload: dict[str, Any]) -> str:
        """Show a notification in the console of a user, a role or an organisation's admins;
        returns a notification id.

        ``payload["outbox_id"]`` is stable across retries: receivers drop a notification whose id
        they have already shown (notifications are delivered at least once).
        """
        ...


@dataclass(frozen=True, slots=True)
class Recipient:
    """Whom a console notification is for: one user, everyone with a role, or the admins of an
    organisation. Stored in the outbox as text (``user:12``, ``role:supervisor``,
    ``org_admins:5``) and resolved to users by the notifier when it is sent."""

    kind: Literal["user", "role", "org_admins"]
    key: str

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        return cls("user", str(user_id))

    @classmethod
    def role(cls, role: str) -> Recipient:
        return cls("role", str(role))

    @classmethod
    def org_admins(cls, provider_id: int) -> Recipient:
        return cls("org_admins", str(provider_id))

    @classmethod
    def parse(cls, text: str) -> Recipient:
        kind, _, key = text.partition(":")
        if kind not in ("user", "role", "org_admins") or not key:
            raise ValueError(f"not a notification recipient: {text!r} (user:ID, role:NAME or org_admins:ID)")
        return cls(kind, key)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True, slots=True)
class Adapters:
    """The ports to the outside world, chosen once by ``create_app``: SMS (Twilio or the log), calls
    (Asterisk, Twilio or the log) and console notifications (the live event stream), which the
    outbox sends through, and the click-to-call connector operators use from the worklists. The
    lookups, where the provider has one (Twilio), reconcile SMS and calls whose outcome is unknown."""

    sms: SmsSender
    calls: CallPlacer
    notifier: Notifier
    connector: CallConnector
    sms_lookup: SentLookup | None = None
    call_lookup: SentLookup | None = None
