"""The outside systems the domain talks to, as small Protocols.

Adapters (Twilio, Asterisk, the simulator, in-memory fakes) implement them; ``dispatch/app.py`` picks
which ones run. Every adapter turns its vendor's failures into :class:`DeliveryError`, so the outbox
sender decides "retry later" or "give up" from one flag instead of knowing every vendor's exceptions.
"""

from __future__ import annotations

from typing import Any, Protocol


class DeliveryError(Exception):
    """A message could not be delivered.

    ``permanent`` means trying again cannot help (invalid or unreachable number, recipient opted out,
    request rejected); otherwise the failure is temporary (rate limit, provider outage, timeout).
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, permanent={self.permanent})"


class SmsSender(Protocol):
    def send_sms(self, to: str, body: str) -> str:
        """Send one text message to an E.164 number; returns the provider's message id."""
        ...


class CallPlacer(Protocol):
    def place_call(self, to: str, payload: dict[str, Any]) -> str:
        """Start an outbound call (rating callbacks); returns the provider's call id.

        ``payload`` says what the call is for (order id, kind) and carries ``outbox_id``, so a
        status callback can be tied back to the outbox row.
        """
        ...


class Notifier(Protocol):
    def notify(self, recipient: str, body: str, payload: dict[str, Any]) -> str:
        """Show a notification in the console of a user or role; returns a notification id.

        ``payload["outbox_id"]`` is stable across retries: receivers drop a notification whose id
        they have already shown (notifications are delivered at least once).
        """
        ...
