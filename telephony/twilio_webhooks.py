"""Twilio webhooks: the phone menu (voice), call status callbacks and SMS replies.

Three paths only (``/telephony/twilio/voice``, ``/status``, ``/sms``); the steps of a call are
``?step=`` on the voice path, and whatever a later step must know (the category chosen, when the
caller joined the queue, the order being rated) rides in that query string, which Twilio signs.

Every request is checked first: 404 when ``[twilio] enabled`` is false, 403 unless
``X-Twilio-Signature`` matches ``public_base_url`` + path + query under the auth token, 400 for a
form that lacks what the step needs. Only then is anything written. Retries are harmless: each
status (CallSid + CallStatus), voicemail (CallSid) and SMS (MessageSid) is claimed once in
``inbound_receipt``, and the call recorder itself only fills in or moves forward.

The voice flow: greeting and menu (keys from ``[twilio] menu``, 0 for an operator, the voicemail
key) -> a choice is a DigitsEntered event -> the caller waits in the operators' queue (or rings
``operator_number``) -> if nobody takes the call, or outside ``operator_hours``, a voicemail that
becomes an order (``dispatch.calls.voicemail``). Outbound rating calls (``TwilioCalls``) run
``step=rating``: press 1-5, recorded as the order's rating with channel "phone".
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from twilio.request_validator import RequestValidator
from twilio.twiml import TwiML
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from dispatch.calls.events import (
    CallAnswered,
)
from dispatch.calls.sms_replies import ReplyServices, apply_reply
from dispatch.deps import Ctx, Db
from dispatch.errors import BadRequest, Forbidden, NotFound
from dispatch.residents.phones import try_normalise
from models import (
    CallDirection,
)
from telephony.twilio_calls import WEBHOOK_PREFIX
from telephony.twilio_voice import (
    CALL_STATUSES,
    SOURCE,
    TERMINAL,
    VOICE_STEPS,
    Turn,
    call_ended,
    first_time,
    form_timestamp,
    number_field,
    required_field,
    sid_field,
)

log = logging.getLogger(__name__)


def twiml_response(twiml: TwiML) -> Response:
    return Response(content=str(twiml), media_type="text/xml")


router = APIRouter(
    prefix=WEBHOOK_PREFIX,
    tags=["twilio"],
    responses={403: {"description": "Not signed by Twilio"}, 404: {"description": "Twilio is not enabled"}},
)


async def verified_form(request: Request, ctx: Ctx) -> dict[str, str]:
    """The POSTed form, once the request is known to come from Twilio."""
    cfg = ctx.settings.twilio
    if not cfg.enabled:
        raise NotFound(
            "Twilio webhooks are off: set [twilio] enabled = true",
            message="未启用 Twilio 回调：请在配置中设置 [twilio] enabled = true",
        )
    try:
        form = await request.form()
    except Exception as exc:  # a body that does not parse as a form
        raise BadRequest(f"cannot read the form data: {exc}", message="无法读取表单数据") from None
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        raise Forbidden(
            "missing X-Twilio-Signature: only Twilio may call this webhook",
            message="缺少 X-Twilio-Signature 签名：只有 Twilio 能调用此回调",
        )
    if not (cfg.public_base_url and cfg.auth_token):
        raise Forbidden(
            "cannot check X-Twilio-Signature: set [twilio] public_base_url and auth_token",
            message="无法校验 X-Twilio-Signature 签名：请在配置中设置 [twilio] public_base_url 和 auth_token",
        )
    url = cfg.public_base_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not RequestValidator(cfg.auth_token).validate(url, form, signature):
        raise Forbidden(
            f"X-Twilio-Signature does not match a request from Twilio to {url}",
            message=f"X-Twilio-Signature 签名与 Twilio 发往 {url} 的请求不符",
        )
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str):
            raise BadRequest(f"{key}: file uploads are not accepted", message=f"{key}：不接受上传文件")
        fields.setdefault(key, value)
    return fields


TwilioForm = Annotated[dict[str, str], Depends(verified_form)]


@router.post("/voice", summary="Twilio voice webhook: the phone menu (configure as the number's Voice URL)")
def voice(request: Request, form: TwilioForm, db: Db, ctx: Ctx) -> Response:
    step = request.query_params.get("step", "")
    handler = VOICE_STEPS.get(step)
    if handler is None:
        raise BadRequest(
            f"step: unknown step {step!r}; one of {', '.join(s for s in VOICE_STEPS if s)}",
            message=f"step：未知的语音步骤 {step}，可选：{'、'.join(s for s in VOICE_STEPS if s)}",
        )
    sid_field(form, "CallSid")  # every step needs one: a 400 before anything is written
    return twiml_response(handler(Turn(db, ctx, form, dict(request.query_params), ctx.clock.now())))


@router.post("/status", summary="Twilio call status callback (configure as the number's status callback URL)")
def status(request: Request, form: TwilioForm, db: Db, ctx: Ctx) -> Response:
    turn = Turn(db, ctx, form, dict(request.query_params), ctx.clock.now())
    call_status = form.get("CallStatus", "")
    if call_status not in CALL_STATUSES:
        raise BadRequest(
            f"CallStatus: unknown status {call_status!r}", message=f"CallStatus：未知的通话状态 {call_status}"
        )
    at = form_timestamp(form, turn.now)
    duration = number_field(form, "CallDuration")
    for key in ("DialCallDuration", "QueueTime"):
        number_field(form, key)  # 400 now rather than after the receipt is written
    if first_time(db, "twilio-status", f"{turn.call_sid}:{call_status}", turn.now):
        started = at - timedelta(seconds=duration) if duration and call_status in TERMINAL else at
        call = turn.ringing(at=started)  # a call first heard of now still gets its row and caller
        if call_status in TERMINAL:
            call = turn.record(call_ended(turn, call_status, at, started))
        elif call_status in ("in-progress", "answered") and turn.outbound:
            call = turn.record(CallAnswered(turn.call_sid, SOURCE, "", at))
        if call is not None and turn.outbound:
            call.direction = CallDirection.OUTBOUND
    return twiml_response(VoiceResponse())


@router.post(
    "/sms", summary="Twilio messaging webhook: worker and resident replies (the number's Messaging URL)"
)
def sms(form: TwilioForm, db: Db, ctx: Ctx) -> Response:
    message_sid = sid_field(form, "MessageSid")
    sender = required_field(form, "From")
    now = ctx.clock.now()
    resp = MessagingResponse()
    if not first_time(db, "twilio-sms", message_sid, now):
        return twiml_response(resp)  # a retry: it was answered the first time
    settings = ctx.settings
    services = ReplyServices(dispatch_context=lambda: ctx.dispatch_context(db))
    sender = try_normalise(sender, settings.locale.default_region) or ""
    resp.message(apply_reply(db, sender=sender, text=form.get("Body", "")[:1600], now=now, services=services))
    return twiml_response(resp)
