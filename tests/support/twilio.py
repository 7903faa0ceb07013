"""Twilio's edge for tests: a scripted HttpClient under twilio's own Client, and webhooks signed
with twilio's own RequestValidator, as Twilio would send them."""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from urllib3.exceptions import MaxRetryError, NewConnectionError

TOKEN = "twilio-auth-token-for-tests"
BASE = "https://sanshe.example.org"
ACCOUNT = "AC" + "0123456789abcdef" * 2
OUR_NUMBER = "+12025550100"
CALLER = "+8613800138000"
CALL_SID = "CA" + "1" * 32
TWILIO = {
    "enabled": True,
    "account_sid": ACCOUNT,
    "auth_token": TOKEN,
    "from_number": OUR_NUMBER,
    "public_base_url": BASE,
}


class FakeTwilioServer(HttpClient):
    """Answers each request with the next scripted Response, or raises the scripted exception."""

    def __init__(self, *answers: Response | BaseException) -> None:
        super().__init__(logger=logging.getLogger("fake-twilio"), is_async=False, timeout=5)
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        self.requests.append({"method": method, "url": url, "data": dict(data or {}), "auth": auth})
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def connection_refused() -> requests.ConnectionError:
    """What requests raises when no connection could be made: the request never left."""
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, "/2010-04-01", reason))


def twilio_error(status: int, code: int | None = None, message: str = "failed") -> Response:
    body: dict[str, Any] = {"status": status, "message": message, "more_info": "https://www.twilio.com/docs"}
    if code is not None:
        body["code"] = code
    return Response(status, json.dumps(body))


def signed_post(client, path: str, form: dict[str, str], *, query: str = "", token: str = TOKEN, url=None):
    """POST a form to the app the way Twilio does: signed over public URL + path + query."""
    target = f"{path}?{query}" if query else path
    signature = RequestValidator(token).compute_signature(url or BASE + target, form)
    return client.post(target, data=form, headers={"X-Twilio-Signature": signature})
