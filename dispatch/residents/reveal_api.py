"""``POST /api/v1/phones/reveal``: a masked number in full, for a reason, recorded.

Lists, details and exports show residents' numbers masked (``residents.privacy``). When the call
centre needs one whole — to call a resident back for a rating, to check a number with them — it
asks here, naming the order, callback, call or resident and saying why; the number comes back and
the reveal is a row of the access trail (``dispatch.audit``) with that reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import selectinload

from dispatch.audit.service import Access, record
from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import InvalidValue, NotFound
from dispatch.inputs import Id
from dispatch.orders import repository
from dispatch.residents.phones import national
from dispatch.residents.privacy import REVEALERS
from models import Call, Callback, CallDirection, Resident, User

router = APIRouter(prefix="/api/v1/phones", tags=["residents"])
Revealer = Annotated[User, Depends(require_roles(*REVEALERS))]
TARGETS = ("order_id", "callback_id", "call_id", "resident_id")


class RevealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(
        min_length=2, max_length=200, description="why the whole number is needed (kept in the access trail)"
    )
    order_id: Id | None = Field(None, description="the order's caller")
    callback_id: Id | None = Field(None, description="the callback's caller")
    call_id: Id | None = Field(None, description="the resident's side of the call")
    resident_id: Id | None = Field(None, description="every number of the resident")

    @field_validator("reason")
    @classmethod
    def _said(cls, v: str) -> str:
        if not v.strip():
            raise InvalidValue("must not be empty", message="不能为空")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> RevealIn:
        if sum(getattr(self, name) is not None for name in TARGETS) != 1:
            raise InvalidValue(
                "name exactly one of order_id, callback_id, call_id or resident_id",
                message="请指定一项：工单、回拨记录、来电记录或居民（只能一项）",
            )
        return self


class RevealedPhone(BaseModel):
    e164: str
    national: str
    kind: str | None = None


class RevealOut(BaseModel):
    resident_id: int | None
    phones: list[RevealedPhone] = Field(description="the number asked for (a resident's: primary first)")


def _missing(what: str, zh: str) -> NotFound:
    return NotFound(f"no {what}, or it has no number", message=f"未找到该{zh}，或没有号码")


@router.post("/reveal", response_model=RevealOut)
def reveal(body: RevealIn, db: Db, ctx: Ctx, user: Revealer) -> RevealOut:
    """One masked number in full (a resident's: all of them). Recorded with the reason given."""
    order_id = resident_id = None
    numbers: list[tuple[str, str | None]] = []
    if body.order_id is not None:
        order = repository.get_visible(db, user, body.order_id)
        if order is None or not order.caller_phone:
            raise _missing(f"order {body.order_id}", "工单")
        order_id, resident_id, numbers = order.id, order.resident_id, [(order.caller_phone, None)]
    elif body.callback_id is not None:
        callback = db.get(Callback, body.callback_id)
        if callback is None or not callback.caller:
            raise _missing(f"callback {body.callback_id}", "回拨记录")
        resident_id, numbers = callback.resident_id, [(callback.caller, None)]
    elif body.call_id is not None:
        call = db.get(Call, body.call_id)
        theirs = (call.caller if call.direction == CallDirection.INBOUND else call.callee) if call else ""
        if call is None or not theirs:
            raise _missing(f"call {body.call_id}", "来电记录")
        resident_id, numbers = call.resident_id, [(theirs, None)]
    else:
        resident = db.get(Resident, body.resident_id, options=[selectinload(Resident.phones)])
        if resident is None or not resident.phones:
            raise _missing(f"resident {body.resident_id}", "居民")
        phones = sorted(resident.phones, key=lambda p: (not p.is_primary, p.id))
        resident_id, numbers = resident.id, [(p.e164, p.kind.value) for p in phones]
    target = next(
        f"{name.removesuffix('_id')} {getattr(body, name)}" for name in TARGETS if getattr(body, name)
    )
    record(
        db,
        user,
        Access.PHONE_REVEAL,
        at=ctx.clock.now(),
        resident_id=resident_id,
        order_id=order_id,
        reason=body.reason,
        detail=target,
    )
    region = ctx.settings.locale.default_region
    return RevealOut(
        resident_id=resident_id,
        phones=[RevealedPhone(e164=n, national=national(n, region), kind=kind) for n, kind in numbers],
    )
