"""The residents' app in tests: sign in the way a resident does, reading the code the SMS carried.

The app's SMS adapter is swapped for an in-memory recorder once the server has started
(:func:`recording_sms`); a code request sends its SMS right after the answer, so with the test
client the code is in the recorder when the request returns (against a live server, wait for it). Nothing here reads the code from the HTTP answer (it is
never there) or from the database (it holds only the code's HMAC).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from dispatch.outbox.adapters import RecordingSms

CODE_IN_SMS = re.compile(r"验证码是 (\d{6})")


def recording_sms(app: Any) -> RecordingSms:
    """Deliver the app's SMS to a recorder from now on; returns it."""
    ctx = app.state.ctx
    recorder = RecordingSms()
    ctx.adapters = replace(ctx.wired(), sms=recorder)
    return recorder


def codes_sent(sms: RecordingSms, e164: str) -> list[str]:
    """The sign-in codes texted to ``e164``, oldest first."""
    return [m[1] for d in sms.delivered if d.recipient == e164 and (m := CODE_IN_SMS.search(d.body))]


def ask_code(client: Any, phone: str, **headers: str) -> Any:
    return client.post("/api/v1/r/auth/code", json={"phone": phone}, headers=headers)


def e164(mobile: str) -> str:
    return "+86" + mobile


def sign_in(client: Any, sms: RecordingSms, mobile: str) -> dict[str, str]:
    """Sign in as the resident of ``mobile`` (11 digits) by SMS code; Authorization headers."""
    r = ask_code(client, mobile)
    assert r.status_code == 202, r.text
    code = codes_sent(sms, e164(mobile))[-1]
    r = client.post("/api/v1/r/auth/token", json={"phone": mobile, "code": code})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
