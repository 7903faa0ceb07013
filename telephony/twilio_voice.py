"""The Twilio phone menu, step by step, and the end of a Twilio call as a ``CallEnded``.

Each step of ``POST /telephony/twilio/voice?step=...`` is a function of one ``Turn`` (the
request's form, query, session and time) returning the TwiML to answer with; ``VOICE_STEPS`` maps
the ``step`` query value to it. The router and the signature check are in ``twilio_webhooks``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from dispatch.calls import ivr
from dispatch.calls.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    DigitsEntered,
    Disposition,
    VoicemailRecorded,
)
from dispatch.calls.recorder import find_call, record_event
from dispatch.calls.voicemail import VoicemailRules, order_from_voicemail, voicemail_order
from dispatch.context import AppContext
from dispatch.errors import BadRequest
from dispatch.residents.phones import try_normalise
from dispatch.settings import TwilioSettings
from models import (
    Call,
    CallDirection,
    InboundReceipt,
    Order,
)
from telephony.twilio_calls import VOICE_PATH, callback_url

log = logging.getLogger(__name__)

SOURCE = "twilio"
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
TERMINAL = {"completed", "busy", "no-answer", "failed", "canceled"}
CALL_STATUSES = TERMINAL | {"queued", "initiated", "ringing", "in-progress", "answered"}


def sid_field(values: dict[str, str], key: str) -> str:
    value = values.get(key, "")
    if not _SID.match(value):
        raise BadRequest(f"{key}: missing or not a Twilio SID", message=f"{key}：缺失或不是有效的 Twilio SID")
    return value


def required_field(values: dict[str, str], key: str) -> str:
    value = values.get(key, "")
    if not value:
        raise BadRequest(f"{key}: missing", message=f"{key}：必填")
    return value


def number_field(values: dict[str, str], key: str) -> int | None:
    raw = values.get(key, "")
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]{1,12}", raw):
        raise BadRequest(
            f"{key}: expected a whole number, got {raw!r}", message=f"{key}：应为整数（当前为 {raw}）"
        )
    return int(raw)


def form_timestamp(values: dict[str, str], default: datetime) -> datetime:
    raw = values.get("Timestamp")
    if not raw:
        return default
    try:
        at = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise BadRequest(
            f"Timestamp: not an RFC 2822 date: {raw!r}",
            message=f"Timestamp：不是 RFC 2822 格式的时间（{raw}）",
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def first_time(session: Session, source: str, external_id: str, now: datetime) -> bool:
    """Claim a webhook delivery; False when it was processed before (a retry)."""
    try:
        with session.begin_nested():
            session.add(InboundReceipt(source=source, external_id=external_id[:120], created_at=now))
    except IntegrityError:
        return False
    return True


@dataclass
class Turn:
    """One request of a call: its form and query, and helpers for events and TwiML."""

    db: Session
    ctx: AppContext
    form: dict[str, str]
    query: dict[str, str]
    now: datetime

    @property
    def cfg(self) -> TwilioSettings:
        return self.ctx.settings.twilio

    @property
    def call_sid(self) -> str:
        return sid_field(self.form, "CallSid")

    @property
    def outbound(self) -> bool:
        return self.form.get("Direction", "").startswith("outbound")

    @property
    def party(self) -> str:
        """The resident's end of the call: who called us, or whom we called."""
        return self.form.get("To" if self.outbound else "From", "")

    def record(self, event: CallEvent) -> Call | None:
        return record_event(
            self.db,
            event,
            region=self.ctx.settings.locale.default_region,
            callbacks=self.ctx.callback_rules(),
        )

    def ringing(self, queue: str | None = None, at: datetime | None = None) -> Call | None:
        us = self.form.get("From" if self.outbound else "To", "")
        call = self.record(CallRinging(self.call_sid, SOURCE, self.party, us, queue, None, at or self.now))
        if call is not None and self.outbound:
            call.direction = CallDirection.OUTBOUND
        return call

    def url(self, step: str | None, **query: object) -> str:
        return callback_url(self.cfg.public_base_url, VOICE_PATH, step=step, **query)

    def say(self, node: TwiML, text: str) -> None:
        node.say(text, language=self.cfg.language, voice=self.cfg.voice)

    def category(self) -> str | None:
        code = self.query.get("category") or None
        if code is not None and not _CODE.match(code):
            raise BadRequest(
                f"category: not a category code: {code!r}", message=f"category：{code} 不是服务类别编码"
            )
        return code

    def menu(self) -> dict[str, tuple[str, str]]:
        return ivr.menu(self.db, self.cfg.menu)

    def operators_open(self) -> bool:
        return ivr.operators_open(self.cfg.operator_hours, self.now, self.ctx.tz)

    @property
    def caller(self) -> str:
        """The resident's number as stored (E.164 when it can be read)."""
        return try_normalise(self.party, self.ctx.settings.locale.default_region) or self.party


def _key_name(key: str) -> str:
    return "星号键" if key == "*" else key


def _greeting(t: Turn) -> VoiceResponse:
    t.ringing()
    resp = VoiceResponse()
    choices = [f"{name}请按{key}" for key, (_, name) in t.menu().items()]
    if t.operators_open():
        intro = ""
        choices += ["人工服务请按0", f"留言请按{_key_name(t.cfg.voicemail_digit)}"]
    else:
        intro = "现在是非工作时间，请选择类别后留言，我们上班后尽快处理。"
        choices.append("其他事项请按0")
    text = f"{t.cfg.greeting}{intro}{'，'.join(choices)}。"
    gather = resp.gather(
        input="dtmf", num_digits=1, action=t.url("menu"), method="POST", timeout=t.cfg.menu_timeout_seconds
    )
    t.say(gather, text)
    resp.redirect(t.url("menu"), method="POST")  # nothing pressed: an operator is the best help
    return resp


def _menu_choice(t: Turn) -> VoiceResponse:
    digits = t.form.get("Digits", "")
    resp = VoiceResponse()
    if digits:
        t.record(DigitsEntered(t.call_sid, SOURCE, digits, t.now))
    menu = t.menu()
    if digits in ("", "0"):
        _to_operators(t, resp, None)
    elif digits == t.cfg.voicemail_digit:
        _voicemail_prompt(t, resp, None)
    elif digits in menu:
        _to_operators(t, resp, menu[digits][0])
    else:
        t.say(resp, "您的输入有误，请重新选择。")
        resp.redirect(t.url(None), method="POST")
    return resp


def _to_operators(t: Turn, resp: VoiceResponse, category: str | None) -> None:
    if not t.operators_open():
        _voicemail_prompt(t, resp, category, "现在是非工作时间。")
        return
    name = ivr.category_name(t.db, category)
    t.say(resp, f"正在为您转接{name or '人工'}服务，请稍候。")
    since = int(t.now.timestamp())
    if t.cfg.operator_number:
        dial = resp.dial(
            action=t.url("dialed", category=category, since=since), method="POST", timeout=t.cfg.ring_seconds
        )
        dial.number(t.cfg.operator_number)
    else:
        t.ringing(queue=t.cfg.operator_queue)
        resp.enqueue(
            t.cfg.operator_queue, action=t.url("queued", category=category, since=since), method="POST"
        )


def _voicemail_prompt(t: Turn, resp: VoiceResponse, category: str | None, intro: str = "") -> None:
    t.say(resp, f"{intro}请在提示音后留言，说明您的姓名、住址和需要什么帮助，说完请按井号键。")
    resp.record(
        action=t.url("recorded", category=category),
        method="POST",
        max_length=t.cfg.max_recording_seconds,
        finish_on_key="#",
        play_beep=True,
    )
    t.say(resp, "没有录到您的留言。如需帮助，请在工作时间再次来电。再见。")
    resp.hangup()


def _operator_result(
    t: Turn, *, answered_at: datetime | None, waited: int, caller_gone: bool
) -> VoiceResponse:
    """After the queue or the operator's phone: hang up, or offer a voicemail when nobody answered.

    The time the caller waited is known only now; it is kept on the call, and the status
    callback's CallEnded event carries it (unless the call already ended)."""
    call = find_call(t.db, SOURCE, t.call_sid)
    if call is not None and call.ended_at is None:
        call.hold_seconds = max(0, waited)
    resp = VoiceResponse()
    if answered_at is not None:
        t.record(CallAnswered(t.call_sid, SOURCE, "", answered_at))
    if answered_at is not None or caller_gone:
        resp.hangup()
    else:
        _voicemail_prompt(t, resp, t.category(), "坐席暂时繁忙。")
    return resp


def _queued(t: Turn) -> VoiceResponse:
    result = required_field(t.form, "QueueResult")
    waited = number_field(t.form, "QueueTime") or 0
    since = number_field(t.query, "since")
    answered_at = None
    if result == "bridged":
        answered_at = datetime.fromtimestamp(since + waited, UTC) if since is not None else t.now
    return _operator_result(t, answered_at=answered_at, waited=waited, caller_gone=result == "hangup")


def _dialed(t: Turn) -> VoiceResponse:
    result = required_field(t.form, "DialCallStatus")
    talk = number_field(t.form, "DialCallDuration") or 0
    since = number_field(t.query, "since")
    waited = int(t.now.timestamp()) - since - talk if since is not None else 0
    answered_at = t.now - timedelta(seconds=talk) if result == "completed" else None
    # CallStatus completed here means the caller hung up while the operator's phone rang.
    return _operator_result(
        t, answered_at=answered_at, waited=waited, caller_gone=t.form.get("CallStatus") == "completed"
    )


def _recorded(t: Turn) -> VoiceResponse:
    recording_url = t.form.get("RecordingUrl", "")
    if not recording_url.startswith(("https://", "http://")):
        raise BadRequest("RecordingUrl: missing or not a URL", message="RecordingUrl：缺失或不是有效的网址")
    if "RecordingSid" in t.form:
        sid_field(t.form, "RecordingSid")
    seconds = number_field(t.form, "RecordingDuration")
    category = t.category()
    order: Order | None
    if first_time(t.db, "twilio-voicemail", t.call_sid, t.now):
        call = t.record(VoicemailRecorded(t.call_sid, SOURCE, recording_url, t.party, t.now))
        order = order_from_voicemail(
            t.db,
            call,
            recording_url=recording_url,
            seconds=seconds,
            category=category,
            rules=VoicemailRules(t.cfg.voicemail_items, t.cfg.voicemail_default_item),
            region=t.ctx.settings.locale.default_region,
            now=t.now,
            services=t.ctx.intake_services(t.db),
        )
    else:  # a retried callback: answer as the first time did
        call = find_call(t.db, SOURCE, t.call_sid)
        order = voicemail_order(t.db, call) if call is not None else None
    resp = VoiceResponse()
    number = f"，登记号尾号{order.number[-4:]}" if order is not None else ""
    t.say(resp, f"您的留言已收到{number}。我们会尽快处理，再见。")
    resp.hangup()
    return resp


def _order_to_rate(t: Turn) -> Order | None:
    return ivr.order_to_rate(
        t.db, order_id=number_field(t.query, "order"), outbox_id=number_field(t.query, "outbox")
    )


def _rating_prompt(t: Turn) -> VoiceResponse:
    t.ringing()
    order = _order_to_rate(t)
    resp = VoiceResponse()
    if order is None:
        t.say(resp, "您好，这里是社区服务热线。您的工单已处理完毕，感谢接听，再见。")
        resp.hangup()
        return resp
    item = ivr.item_name(t.db, order)
    gather = resp.gather(
        input="dtmf",
        num_digits=1,
        action=t.url("rated", order=order.id),
        method="POST",
        timeout=t.cfg.menu_timeout_seconds,
    )
    t.say(
        gather,
        f"您好，这里是社区服务热线回访。您的工单尾号{order.number[-4:]}，{item}，已经办结。"
        "请对服务评价：非常满意请按5，满意请按4，基本满意请按3，不满意请按2，非常不满意请按1。",
    )
    t.say(resp, "没有收到您的评价，感谢接听，再见。")
    resp.hangup()
    return resp


def _rated(t: Turn) -> VoiceResponse:
    digits = t.form.get("Digits", "")
    resp = VoiceResponse()
    if digits not in ("1", "2", "3", "4", "5"):
        t.say(resp, "您的输入有误。")
        resp.redirect(t.url("rating", order=t.query.get("order")), method="POST")
        return resp
    t.record(DigitsEntered(t.call_sid, SOURCE, digits, t.now))
    order = _order_to_rate(t)
    rated = order is not None and ivr.rate(t.db, order, int(digits), caller=t.caller, now=t.now)
    if rated and int(digits) <= 2:
        # Unsatisfied: offer rework there and then (the resident may also reply "重办" by SMS).
        gather = resp.gather(
            input="dtmf",
            num_digits=1,
            action=t.url("rework", order=t.query.get("order")),
            method="POST",
            timeout=t.cfg.menu_timeout_seconds,
        )
        t.say(gather, "很抱歉服务没有让您满意。需要重新上门处理请按1，不需要请按2。")
        t.say(resp, "我们会尽快联系您了解情况，再见。")
        resp.hangup()
        return resp
    t.say(resp, "感谢您的评价，再见。")
    resp.hangup()
    return resp


def _rework(t: Turn) -> VoiceResponse:
    """The answer to the rework question after a 1–2 star rating: 1 reopens the order."""
    digits = t.form.get("Digits", "")
    resp = VoiceResponse()
    if digits:
        t.record(DigitsEntered(t.call_sid, SOURCE, digits, t.now))
    order = None
    if digits == "1":
        order = ivr.rework(
            t.db,
            number_field(t.query, "order"),
            caller=t.caller,
            now=t.now,
            ctx=t.ctx.dispatch_context(t.db),
        )
    if order is None:
        t.say(resp, "好的，我们会尽快联系您了解情况，再见。")
        resp.hangup()
        return resp
    t.say(resp, f"已为您申请重办，工单尾号{order.number[-4:]}。我们会重新安排服务人员上门，再见。")
    resp.hangup()
    return resp


_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


def _bridge(t: Turn) -> VoiceResponse:
    """The operators' desk answered a click-to-call (``TwilioConnector``): dial the resident,
    showing the centre's number. Not a resident's call, so not recorded as one."""
    to = t.query.get("to", "")
    if not _E164.match(to):
        raise BadRequest(f"to: not an E.164 number: {to!r}", message=f"to：{to} 不是 E.164 格式的电话号码")
    resp = VoiceResponse()
    t.say(resp, "正在为您回拨居民电话，请稍候。")
    dial = resp.dial(caller_id=t.cfg.from_number, timeout=t.cfg.ring_seconds)
    dial.number(to)
    return resp


VOICE_STEPS = {
    "": _greeting,
    "menu": _menu_choice,
    "queued": _queued,
    "dialed": _dialed,
    "recorded": _recorded,
    "rating": _rating_prompt,
    "rated": _rated,
    "rework": _rework,
    "bridge": _bridge,
}


def _disposition(t: Turn, status: str, call: Call | None, talk: int | None) -> Disposition:
    if t.outbound:
        return "answered" if status == "completed" else "missed"
    if status == "canceled":  # hung up before Twilio answered
        return "abandoned"
    if status != "completed":
        return "missed"
    answered = (call is not None and call.answered_at is not None) or bool(talk)
    if not answered and call is not None and call.recording_url:
        return "voicemail"
    return "answered" if answered else "abandoned"


def call_ended(t: Turn, status: str, at: datetime, started: datetime) -> CallEnded:
    """The one CallEnded of a call, from this callback and what earlier steps stored on the call."""
    call = find_call(t.db, SOURCE, t.call_sid)
    duration = number_field(t.form, "CallDuration")
    talk = number_field(t.form, "DialCallDuration")
    hold = number_field(t.form, "QueueTime")
    disposition = _disposition(t, status, call, talk)
    answered_at = call.answered_at if call is not None else None
    if disposition != "answered":
        talk, answered_at = 0, None
    elif t.outbound:
        talk = talk if talk is not None else duration or 0
    elif talk is None:
        talk = max(0, int((at - answered_at).total_seconds())) if answered_at else 0
    if disposition == "answered" and answered_at is None:
        answered_at = at - timedelta(seconds=talk or 0)
    if hold is None:
        hold = call.hold_seconds if call is not None else 0
    queue = (call.queue or None) if call is not None else None
    return CallEnded(
        t.call_sid, SOURCE, at, disposition, hold, talk or 0, t.party, queue, None, started, answered_at
    )
