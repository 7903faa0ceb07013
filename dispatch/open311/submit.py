"""A request POSTed by an application: checked, then an order through the same intake as every
other (channel ``app``, the application named on the timeline), or kept for the call centre.

When it is kept (a token is answered instead of a service_request_id): the place cannot be
found, because the address text is not in the gazetteer (nor found by an online geocoder) and no
coordinates came with it. A call-centre operator finds the place (``GET /api/v1/open311/pending``,
then ``…/accept`` with the address or the coordinates) and the order is made then, through the
same intake; ``GET /open311/v2/tokens/{token}`` answers its service_request_id from that moment.

Nothing is created twice: a request repeated with its ``Idempotency-Key`` gets the first answer,
and so does the same device (``device_id``) sending the same service_code and description
within ``REPEAT_WINDOW``, with or without a key.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import desc, select
from sqlalchemy.orm import Session

from dispatch.context import AppContext
from dispatch.errors import BadRequest
from dispatch.geo.coords import COORD_SYSTEMS
from dispatch.idempotency import run_once
from dispatch.open311.services import active_item, check_attributes, describe_attributes
from dispatch.orders.intake import IntakeError, IntakeRequest, Prepared, create_order, prepare
from dispatch.orders.offers import offer_if_auto
from dispatch.residents.phones import InvalidPhone, normalise_phone
from dispatch.validation import FIELD_LABELS
from models import (
    Channel,
    Item,
    Open311Key,
    Open311Submission,
    Order,
    Place,
    SubmissionStatus,
    User,
)

REPEAT_WINDOW = timedelta(minutes=10)
# The fields a request may carry, with their longest value. ``api_key`` is the key's business.
LIMITS = {
    "jurisdiction_id": 100,
    "service_code": 20,
    "lat": 40,
    "long": 40,
    "coord_system": 10,
    "address_string": 300,
    "address_id": 12,
    "email": 200,
    "device_id": 100,
    "account_id": 100,
    "first_name": 25,
    "last_name": 25,
    "phone": 32,
    "description": 4000,
    "media_url": 500,
}
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,50})\](?:\[\])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def _bad(name: str, detail: str, said: str, code: str = "invalid_input") -> BadRequest:
    """A 400 naming the spec's field and its Chinese label: 'service_code（服务编码）有误：…'."""
    return BadRequest(f"{name}: {detail}", code=code, message=f"{name}（{_label(name)}）有误：{said}")


@dataclass(frozen=True)
class Request:
    """What a POST said, checked: nothing here has been written anywhere yet."""

    item_code: str
    phone: str  # E.164
    description: str
    resident_name: str | None
    lat: float | None
    lon: float | None
    coord_system: str
    address: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    email: str = ""
    device_id: str = ""
    account_id: str = ""
    media_url: str = ""

    def form(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self, key_id: int) -> str | None:
        if not self.device_id:
            return None
        said = "\n".join((str(key_id), self.device_id, self.item_code, " ".join(self.description.split())))
        return hashlib.sha256(said.encode()).hexdigest()


def _one_each(pairs: Iterable[tuple[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The form's fields and its ``attribute[code]`` values, each given at most once, as text."""
    fields: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for name, value in pairs:
        if not isinstance(value, str):
            raise _bad(name, "files are not taken: give media_url", "不接受上传文件，图片请以 media_url 提供")
        found = _ATTRIBUTE.match(name)
        target, key = (attributes, found.group(1)) if found else (fields, name)
        if name != "api_key" and not found and name not in LIMITS:
            continue  # a field the spec does not have: some clients send their own
        if key in target:
            raise _bad(name, "given more than once", "只能填写一次")
        limit = LIMITS.get(name, 100)
        if len(value) > limit:
            raise _bad(name, f"longer than {limit} characters", f"最多 {limit} 个字符")
        target[key] = value.strip()
    return fields, attributes


def _coordinate(fields: dict[str, str], name: str, bound: float) -> float | None:
    text = fields.get(name, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        raise _bad(
            name, f"not a number from -{bound:g} to {bound:g}", f"应为 -{bound:g} 到 {bound:g} 之间的数"
        )
    return value


def _place(session: Session, fields: dict[str, str]) -> Place | None:
    text = fields.get("address_id", "")
    if not text:
        return None
    place = session.get(Place, int(text)) if text.isdigit() and 0 < int(text) < 2**31 else None
    if place is None:
        raise _bad("address_id", f"no address {text!r}", "地址库中没有这个编号", code="unknown_address")
    return place


def read_request(
    session: Session, pairs: Iterable[tuple[str, Any]], *, region: str, jurisdiction: str
) -> tuple[Item, Request]:
    """Check a POST's form; a 400 in the applications' words for the first thing wrong."""
    fields, attributes = _one_each(pairs)
    given = fields.get("jurisdiction_id", "")
    if jurisdiction and given and given != jurisdiction:
        raise _bad("jurisdiction_id", f"unknown jurisdiction {given!r}", f"本平台的辖区编号是 {jurisdiction}")
    code = fields.get("service_code", "")
    if not code:
        raise _bad("service_code", "required", "请填写服务编码（见 services.json）", code="missing_field")
    item = active_item(session, code)
    if item is None:
        raise _bad(
            "service_code", f"unknown service {code!r}", "没有这项服务（或已停用）", code="unknown_service"
        )
    lat, lon = _coordinate(fields, "lat", 90), _coordinate(fields, "long", 180)
    if (lat is None) != (lon is None):
        raise _bad("long" if lon is None else "lat", "lat and long go together", "经纬度须同时填写")
    coord_system = fields.get("coord_system") or "wgs84"
    if coord_system not in COORD_SYSTEMS:
        raise _bad(
            "coord_system", f"one of {', '.join(COORD_SYSTEMS)}", f"应为 {'、'.join(COORD_SYSTEMS)} 之一"
        )
    place = _place(session, fields)
    address = fields.get("address_string") or None
    if place is not None:
        lat, lon, coord_system = place.lat, place.lon, "wgs84"
        address = address or place.name
    if lat is None and not address:
        raise _bad(
            "address_string",
            "give lat and long, address_string or address_id",
            "请提供位置：经纬度（lat、long）、地址（address_string）或地址编号（address_id）",
            code="missing_location",
        )
    try:
        phone = normalise_phone(fields.get("phone", ""), region).e164
    except InvalidPhone as exc:
        raise _bad("phone", str(exc), f"{exc.message}；本平台按电话联系居民并回访，须留电话") from None
    email = fields.get("email", "")
    if email and not _EMAIL.match(email):
        raise _bad("email", "not an e-mail address", "电子邮箱格式不正确")
    media_url = fields.get("media_url", "")
    parts = urlsplit(media_url)
    if media_url and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise _bad("media_url", "not an http(s) URL", "应为 http 或 https 开头的网址")
    name = (fields.get("last_name", "") + fields.get("first_name", "")).strip() or None
    return item, Request(
        item_code=item.code,
        phone=phone,
        description=fields.get("description") or item.name_zh,
        resident_name=name,
        lat=lat,
        lon=lon,
        coord_system=coord_system,
        address=address,
        attributes=check_attributes(item, attributes),
        email=email,
        device_id=fields.get("device_id", ""),
        account_id=fields.get("account_id", ""),
        media_url=media_url,
    )


@dataclass(frozen=True)
class Answer:
    service_request_id: str | None
    token: str | None
    service_notice: str
    account_id: str | None

    def out(self) -> dict[str, Any]:
        given = {"service_request_id": self.service_request_id} if self.service_request_id else {}
        if self.token:
            given["token"] = self.token
        return {**given, "service_notice": self.service_notice, "account_id": self.account_id}


def source_note(item: Item, request: Request, app: str, *, checked: bool = False) -> str:
    said = [f"经开放接口（Open311）由「{app}」提交" + ("，呼叫中心核实地址后转为工单" if checked else "")]
    wishes = describe_attributes(item, request.attributes)
    if wishes:
        said.append(wishes)
    if request.media_url:
        said.append(f"附图链接（未经核验）：{request.media_url}")
    return "；".join(said)


def intake_request(item: Item, request: Request, note: str) -> IntakeRequest:
    return IntakeRequest(
        phone=normalise_phone(request.phone),
        description=request.description,
        channel=Channel.APP,
        resident_name=request.resident_name,
        address=request.address,
        lat=request.lat,
        lon=request.lon,
        coord_system=request.coord_system,  # type: ignore[arg-type]
        item_code=item.code,
        # The application says where: never the resident's registered address instead.
        use_registered_address=False,
        source_note=note,
    )


def _prepared(ctx: AppContext, req: IntakeRequest) -> Prepared:
    with ctx.read_sessions() as reader:
        try:
            return prepare(reader, req, ctx.intake_services(reader))
        except IntakeError as exc:
            raise BadRequest(str(exc), code=exc.code, message=exc.message) from None


def make_order(
    db: Session, ctx: AppContext, req: IntakeRequest, prepared: Prepared, actor: User | str, now: datetime
) -> Order:
    try:
        result = create_order(
            db, req, actor=actor, now=now, services=ctx.intake_services(db), prepared=prepared
        )
    except IntakeError as exc:
        raise BadRequest(str(exc), code=exc.code, message=exc.message) from None
    offer_if_auto(db, result.order, ctx=ctx.dispatch_context(db), now=now, excluded=())
    return result.order


def order_notice(item: Item, order: Order, ctx: AppContext) -> str:
    due = order.complete_by.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M") if order.complete_by else None
    said = f"已受理，工单号 {order.number}" + (f"，预计 {due} 前办结" if due else "")
    return f"{said}。{item.notice}" if item.notice else said


# The fields of a kept request that say who the resident is.
PERSONAL = frozenset({"phone", "resident_name", "email", "device_id", "account_id"})
PENDING_NOTICE = "地址未能自动定位，呼叫中心核实后转为工单；请用 token 查询工单号"


def _earlier(db: Session, key: Open311Key, fingerprint: str | None, now: datetime) -> Answer | None:
    if fingerprint is None:
        return None
    found = db.scalar(
        select(Open311Submission)
        .where(
            Open311Submission.key_id == key.id,
            Open311Submission.fingerprint == fingerprint,
            Open311Submission.created_at >= now - REPEAT_WINDOW,
        )
        .order_by(desc(Open311Submission.id))
        .limit(1)
    )
    if found is None:
        return None
    order = db.get(Order, found.order_id) if found.order_id is not None else None
    return Answer(
        order.number if order is not None else None,
        found.token,
        PENDING_NOTICE if order is None else f"此前已受理，工单号 {order.number}",
        found.account_id or None,
    )


def submit(
    db: Session,
    ctx: AppContext,
    key: Open311Key,
    item: Item,
    request: Request,
    *,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[Answer, bool]:
    """(the answer, whether it repeats an earlier one). Classifying and geocoding happen before
    the write transaction takes its lock, as for the console's intake."""
    intake = intake_request(item, request, source_note(item, request, key.name))
    prepared = _prepared(ctx, intake)
    fingerprint = request.fingerprint(key.id)
    repeated = False

    def work() -> tuple[int, dict[str, Any]]:
        nonlocal repeated
        earlier = _earlier(db, key, fingerprint, now)
        if earlier is not None:
            repeated = True
            return 201, earlier.out()
        row = Open311Submission(
            key_id=key.id,
            created_at=now,
            item_id=item.id,
            fingerprint=fingerprint,
            account_id=request.account_id,
        )
        if prepared.located is None:
            row.status, row.token, row.reason = (
                SubmissionStatus.PENDING,
                secrets.token_hex(16),
                "address_unresolved",
            )
            row.form = request.form()
            db.add(row)
            db.flush()
            return 201, Answer(None, row.token, PENDING_NOTICE, request.account_id or None).out()
        order = make_order(db, ctx, intake, prepared, f"open311:{key.name}"[:80], now)
        row.status, row.order_id = SubmissionStatus.ORDERED, order.id
        db.add(row)
        db.flush()
        return 201, Answer(
            order.number, None, order_notice(item, order, ctx), request.account_id or None
        ).out()

    _, body, replayed = run_once(
        db,
        scope=f"open311:key:{key.id}",
        key=idempotency_key,
        payload=request.form(),
        now=now,
        work=work,
    )
    return Answer(
        body.get("service_request_id"), body.get("token"), body["service_notice"], body.get("account_id")
    ), (replayed or repeated)
