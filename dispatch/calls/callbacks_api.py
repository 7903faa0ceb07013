"""The callback worklist over HTTP: list what waits, call a resident back, close with an outcome.

The worklist names the residents it lists (name and tags): each row is recorded in the access
trail. Numbers are masked; 回拨 dials without showing one, unless nothing can dial it (no PBX),
when it answers with the number to dial by hand, recorded as a reveal."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from dispatch.audit.service import Access, Seen, record, record_many
from dispatch.calls import callbacks, recordings
from dispatch.calls.views import callback_out
from dispatch.db import read_only
from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import AppError, BadRequest, NotFound
from dispatch.inputs import Id, Payload
from dispatch.pagination import Page, paginate
from dispatch.ports import DeliveryError
from dispatch.residents.phones import national, try_normalise
from models import Callback, CallbackStatus, CallOutcome, Role, User

CALL_CENTRE = (Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)
router = APIRouter(prefix="/api/v1/callbacks", tags=["callbacks"])
Staff = Annotated[User, Depends(require_roles(*CALL_CENTRE))]


class ResidentBrief(BaseModel):
    id: int
    name: str
    tags: list[str]


class Dial(BaseModel):
    e164: str
    national: str


class OpenOrderBrief(BaseModel):
    id: int
    number: str
    status: str
    item_code: str


class CallbackOut(BaseModel):
    id: int
    caller: str | None = Field(description="null: the number is masked (POST /api/v1/phones/reveal shows it)")
    caller_national: str = Field(description="masked: 138****8000")
    resident: ResidentBrief | None
    reason: Literal["missed", "abandoned", "voicemail"]
    recording_url: str | None
    call_count: int
    created_at: datetime
    last_call_at: datetime
    due_at: datetime
    overdue: bool
    status: Literal["open", "closed"]
    attempts: int
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    outcome: CallOutcome | None
    order_id: int | None
    order_number: str | None
    note: str
    closed_at: datetime | None
    closed_by: str | None
    open_orders: list[OpenOrderBrief]


class CallbackList(BaseModel):
    items: list[CallbackOut]
    total: int


class CallOut(BaseModel):
    callback: CallbackOut
    via: str = Field(description="asterisk, twilio or log (no PBX: dial by hand)")
    call_id: str
    detail: str = Field(description="what happens next, for the operator (Chinese)")
    dial: Dial | None = Field(
        None, description="the number to dial by hand when no phone system places the call (recorded)"
    )


class CloseIn(Payload):
    outcome: CallOutcome
    order_id: Id | None = Field(None, description="the order it became, or duplicates")
    note: str = Field("", max_length=500)


def _one(db: Db, ctx: Ctx, row: Callback) -> CallbackOut:
    return CallbackOut(
        **callback_out(db, [row], region=ctx.settings.locale.default_region, now=ctx.clock.now())[0]
    )


def _record_rows(db: Db, ctx: Ctx, user: User, rows: list[Callback]) -> None:
    seen = [Seen(c.resident_id) for c in rows if c.resident_id is not None]
    record_many(db, user, Access.CALLBACK, seen, at=ctx.clock.now(), detail="callback worklist")


@router.get("", response_model=CallbackList)
def list_callbacks(
    db: Db,
    ctx: Ctx,
    user: Staff,
    page: Page,
    status: Annotated[
        CallbackStatus, Query(description="open: waiting, oldest first; closed: latest first")
    ] = CallbackStatus.OPEN,
    caller: Annotated[str | None, Query(max_length=32, description="the caller's number, any format")] = None,
) -> CallbackList:
    stmt = select(Callback).where(Callback.status == status)
    if caller:
        region = ctx.settings.locale.default_region
        stmt = stmt.where(Callback.caller == (try_normalise(caller, region) or caller))
    if status == CallbackStatus.OPEN:
        stmt = stmt.order_by(Callback.created_at, Callback.id)
    else:
        stmt = stmt.order_by(Callback.closed_at.desc(), Callback.id.desc())
    rows, total = paginate(db, stmt, page)
    items = callback_out(db, rows, region=ctx.settings.locale.default_region, now=ctx.clock.now())
    _record_rows(db, ctx, user, rows)
    return CallbackList(items=[CallbackOut(**i) for i in items], total=total)


def _get(db: Db, callback_id: Id) -> Callback:
    callback = db.get(Callback, callback_id)
    if callback is None:
        raise NotFound(f"no callback {callback_id}", message=f"没有编号为 {callback_id} 的回拨")
    return callback


@router.get("/{callback_id}", response_model=CallbackOut)
def get_callback(callback_id: Id, db: Db, ctx: Ctx, user: Staff) -> CallbackOut:
    callback = _get(db, callback_id)
    _record_rows(db, ctx, user, [callback])
    return _one(db, ctx, callback)


@router.get(
    "/{callback_id}/recording",
    response_class=Response,
    responses={200: {"content": {"audio/*": {}}, "description": "the voicemail, as the recorder serves it"}},
)
def get_recording(callback_id: Id, db: Db, ctx: Ctx, user: Staff) -> Response:
    """The callback's voicemail through this server: the console plays only its own origin, and
    Twilio's recordings need the account's credentials. Only from ``[callcentre] recording_hosts``."""
    url = _get(db, callback_id).recording_url
    if not url:
        raise NotFound(f"callback {callback_id} has no recording", message="这个回拨没有语音留言")
    audio, media_type = recordings.fetch(url, ctx.settings)
    return Response(content=audio, media_type=media_type, headers={"Cache-Control": "no-store"})


@router.post("/{callback_id}/call", response_model=CallOut)
def call_back(callback_id: Id, db: Db, ctx: Ctx, user: Staff) -> CallOut:
    """Ring the signed-in operator's phone, then the caller; counts an attempt."""
    connector = ctx.wired().connector
    # Read first without holding a write transaction: the PBX or Twilio may take seconds.
    with read_only(ctx.sessions) as session:
        caller = callbacks.get_open(session, callback_id).caller
    if connector.via == "asterisk" and not user.extension:
        raise BadRequest(
            "you have no phone extension: ask an admin to set one on your account",
            code="no_extension",
            message="您的账号没有设置分机号，请联系管理员设置后再回拨",
        )
    try:
        call_id = connector.connect(user.extension or "", caller, {"callback_id": callback_id})
    except DeliveryError as exc:
        raise AppError(
            f"the call could not be placed: {exc}",
            code="call_failed",
            status_code=502,
            message="未能发起呼叫，请稍后重试，或直接拨打居民电话",
        ) from None
    callback = callbacks.get_open(db, callback_id)
    callbacks.record_attempt(db, callback, now=ctx.clock.now())
    db.flush()
    told = {
        "asterisk": "您的分机会先响铃，接起后自动拨打居民电话",
        "twilio": "坐席台电话会先响铃，接起后接通居民",
        "log": "未接入电话系统，请手动拨打居民电话",
    }.get(connector.via, "已发起回拨")
    dial = None
    if connector.via == "log":  # nothing dials it: the operator needs the number
        dial = Dial(e164=caller, national=national(caller, ctx.settings.locale.default_region))
        record(
            db,
            user,
            Access.PHONE_REVEAL,
            at=ctx.clock.now(),
            resident_id=callback.resident_id,
            reason="回拨：手动拨号",
            detail=f"callback {callback.id}",
        )
    return CallOut(
        callback=_one(db, ctx, callback), via=connector.via, call_id=call_id, detail=told, dial=dial
    )


@router.post("/{callback_id}/close", response_model=CallbackOut)
def close_callback(callback_id: Id, body: CloseIn, db: Db, ctx: Ctx, user: Staff) -> CallbackOut:
    callback = callbacks.get_open(db, callback_id)
    callbacks.close(
        db,
        callback,
        outcome=body.outcome,
        order_id=body.order_id,
        note=body.note,
        actor=user,
        now=ctx.clock.now(),
        rules=ctx.callback_rules(),
    )
    return _one(db, ctx, callback)
