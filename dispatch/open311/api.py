"""Open311 GeoReport v2 at ``/open311/v2/``: services, a service's definition, requests (POST with
an API key; GET public), one request, and a token's request. ``.json`` or ``.xml`` on each.

Left out of the OpenAPI document: its answers and errors are the spec's (``dispatch.open311.edge``
turns every error here into ``[{"code", "description"}]`` or ``<errors>``), not this API's.
Parameters are read by hand rather than declared, so that a bad one is the spec's 400 and not a 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import TypeAdapter, ValidationError

from dispatch.deps import ClientAddress, Ctx, Db
from dispatch.errors import BadRequest, NotFound
from dispatch.inputs import AwareTime
from dispatch.open311 import keys, render, services
from dispatch.open311.keys import USE_STATE
from dispatch.open311.pending import token_answer
from dispatch.open311.public import Filters, PublicView, find_orders
from dispatch.open311.submit import read_request, submit
from models import Item, Order

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_NUMBER = 20
_DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
_TIME = TypeAdapter(AwareTime)


async def open311_enabled(ctx: Ctx) -> None:
    if not ctx.settings.open311.enabled:
        raise NotFound("Open311 is not enabled on this server", message="本平台未开启开放接口（Open311）")


router = APIRouter(prefix="/open311/v2", include_in_schema=False, dependencies=[Depends(open311_enabled)])


def _format(fmt: str) -> render.Format:
    if fmt.lower() not in render.FORMATS:
        raise BadRequest(
            f"unknown format {fmt!r}: use .json or .xml",
            code="unknown_format",
            message=f"不支持的格式“{fmt}”：请用 .json 或 .xml",
        )
    return fmt.lower()  # type: ignore[return-value]


def _answer(body: tuple[bytes, str], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content, media_type = body
    return Response(content, status_code=status, media_type=media_type, headers=headers)


def _check_jurisdiction(ctx: Ctx, given: str | None) -> None:
    wanted = ctx.settings.open311.jurisdiction_id
    if wanted and given and given != wanted:
        raise BadRequest(
            f"jurisdiction_id: unknown jurisdiction {given!r}",
            code="unknown_jurisdiction",
            message=f"jurisdiction_id（辖区编号）：本平台的辖区编号是 {wanted}",
        )


@dataclass
class Caller:
    """Who is asking: the key's use is logged by the edge (``USE_STATE``) once the answer is known."""

    request: Request
    db: Db
    ctx: Ctx
    address: str

    def use_key(self, secret: str | None, operation: str) -> keys.Open311Key:
        key = keys.identify(self.db, secret)
        use = {"key_id": key.id, "operation": operation, "client_address": self.address, "reference": ""}
        setattr(self.request.state, USE_STATE, use)
        keys.ensure_live(key)
        settings = self.ctx.settings.open311
        keys.check_rate(self.db, key, default_rate=settings.rate_per_minute, now=self.ctx.clock.now())
        return key

    def read(self, operation: str) -> None:
        """A public read: checked like any other, logged when it names a key."""
        params = self.request.query_params
        _check_jurisdiction(self.ctx, params.get("jurisdiction_id"))
        if "api_key" in params:
            self.use_key(params["api_key"], operation)

    def refers_to(self, reference: str) -> None:
        use = getattr(self.request.state, USE_STATE, None)
        if use is not None:
            use["reference"] = reference


def caller(request: Request, db: Db, ctx: Ctx, address: ClientAddress) -> Caller:
    return Caller(request, db, ctx, address)


Asking = Annotated[Caller, Depends(caller)]


@router.get("/services.{fmt}")
def list_services(fmt: str, asking: Asking) -> Response:
    fmt = _format(fmt)
    asking.read("get_services")
    rows = [services.service_out(item) for item in services.active_items(asking.db)]
    return _answer(render.listing(fmt, rows, root="services", item="service"))


def _service(asking: Caller, code: str) -> Item:
    item = services.active_item(asking.db, code)
    if item is None:
        raise NotFound(f"no service {code!r}", message=f"没有编码为 {code} 的服务（或已停用）")
    return item


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, asking: Asking) -> Response:
    fmt = _format(fmt)
    asking.read("get_service")
    item = _service(asking, service_code)
    return _answer(render.single(fmt, services.definition_out(item), root="service_definition"))


async def form_pairs(request: Request) -> list[tuple[str, Any]]:
    """The POSTed form's fields in order (a form, as the spec says); ``api_key`` and
    ``jurisdiction_id`` may also come in the query, as some clients send them."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        raise BadRequest(
            f"send the request as a form ({FORM_TYPES[0]}), not {content_type or 'no content type'}",
            code="not_a_form",
            message="请以表单（application/x-www-form-urlencoded）提交",
        )
    pairs = list((await request.form()).multi_items())
    sent = {name for name, _ in pairs}
    extra = [(n, v) for n, v in request.query_params.multi_items() if n in ("api_key", "jurisdiction_id")]
    return pairs + [(n, v) for n, v in extra if n not in sent]


@router.post("/requests.{fmt}")
def post_request(
    fmt: str,
    asking: Asking,
    pairs: Annotated[list[tuple[str, Any]], Depends(form_pairs)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    fmt = _format(fmt)
    secret = next((v for n, v in pairs if n == "api_key" and isinstance(v, str)), None)
    key = asking.use_key(secret, "post_request")
    ctx = asking.ctx
    item, wanted = read_request(
        asking.db,
        pairs,
        region=ctx.settings.locale.default_region,
        jurisdiction=ctx.settings.open311.jurisdiction_id,
    )
    answer, repeated = submit(
        asking.db, ctx, key, item, wanted, idempotency_key=idempotency_key, now=ctx.clock.now()
    )
    asking.refers_to(answer.service_request_id or answer.token or "")
    headers = {"Idempotent-Replayed": "true"} if repeated else None
    body = render.listing(fmt, [answer.out()], root="service_requests", item="request")
    return _answer(body, 201, headers)


def _split(params: Any, name: str, limit: int) -> tuple[str, ...]:
    text = params.get(name, "")
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if len(values) > limit or any(len(v) > MAX_NUMBER for v in values):
        raise BadRequest(
            f"{name}: at most {limit} values of up to {MAX_NUMBER} characters",
            code="invalid_input",
            message=f"{name}：最多 {limit} 个值，每个不超过 {MAX_NUMBER} 个字符",
        )
    return values


def _when(ctx: Ctx, name: str, text: str, *, end: bool) -> datetime:
    if _DAY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None:
            day += timedelta(days=1) if end else timedelta()
            moment = datetime.combine(day, time.min, ctx.tz)
            return moment - timedelta(microseconds=1) if end else moment
    try:
        return _TIME.validate_python(text)
    except ValidationError:
        raise BadRequest(
            f"{name}: not a W3C date-time with a time zone (e.g. 2026-12-01T00:00:00+08:00)",
            code="invalid_date",
            message=f"{name}：应为带时区的日期时间（如 2026-12-01T00:00:00+08:00）或日期（如 2026-12-01）",
        ) from None


def _window(ctx: Ctx, params: Any) -> tuple[datetime, datetime]:
    """The spec's window: the last ``default_days`` days unless dates are given; never longer."""
    days = timedelta(days=ctx.settings.open311.default_days)
    start_text, end_text = params.get("start_date", ""), params.get("end_date", "")
    start = _when(ctx, "start_date", start_text, end=False) if start_text else None
    end = _when(ctx, "end_date", end_text, end=True) if end_text else None
    if start is None and end is None:
        end = ctx.clock.now()
    if start is None:
        start = end - days  # type: ignore[operator]
    if end is None:
        end = start + days
    if end < start:
        raise BadRequest(
            "end_date is before start_date", code="invalid_date", message="end_date 早于 start_date"
        )
    if end - start > days:
        raise BadRequest(
            f"start_date to end_date may span at most {days.days} days",
            code="invalid_date",
            message=f"start_date 到 end_date 最多 {days.days} 天",
        )
    return start, end


def _statuses(params: Any) -> frozenset[str]:
    wanted = frozenset(_split(params, "status", 2))
    if not wanted <= {"open", "closed"}:
        raise BadRequest(
            "status: open, closed or both (comma separated)",
            code="invalid_input",
            message="status：应为 open、closed，或两者以逗号分隔",
        )
    return wanted


def _public(asking: Caller, orders: list[Order]) -> list[dict[str, Any]]:
    settings = asking.ctx.settings.open311
    view = PublicView(asking.db, tz=asking.ctx.tz, precision_m=settings.coordinate_precision_m)
    view.load(orders)
    return [view.out(o) for o in orders]


@router.get("/requests.{fmt}")
def list_requests(fmt: str, asking: Asking) -> Response:
    fmt = _format(fmt)
    asking.read("get_requests")
    params = asking.request.query_params
    most = asking.ctx.settings.open311.max_requests_per_query
    numbers = _split(params, "service_request_id", most)
    if numbers:  # the spec: the ids override every other filter
        filters = Filters(numbers=numbers)
    else:
        start, end = _window(asking.ctx, params)
        codes = _split(params, "service_code", 200)
        filters = Filters(codes=codes, statuses=_statuses(params), start=start, end=end)
    rows = _public(asking, find_orders(asking.db, filters, limit=most))
    return _answer(render.listing(fmt, rows, root="service_requests", item="request"))


@router.get("/requests/{service_request_id}.{fmt}")
def one_request(service_request_id: str, fmt: str, asking: Asking) -> Response:
    fmt = _format(fmt)
    asking.read("get_request")
    asking.refers_to(service_request_id[:100])
    found = find_orders(asking.db, Filters(numbers=(service_request_id[:MAX_NUMBER],)), limit=1)
    if not found:
        raise NotFound(
            f"no service request {service_request_id!r}",
            message=f"没有编号为 {service_request_id[:MAX_NUMBER]} 的服务请求",
        )
    return _answer(render.listing(fmt, _public(asking, found), root="service_requests", item="request"))


@router.get("/tokens/{token}.{fmt}")
def token(token: str, fmt: str, asking: Asking) -> Response:
    fmt = _format(fmt)
    asking.read("get_token")
    asking.refers_to(token[:100])
    row = token_answer(asking.db, token)
    return _answer(render.listing(fmt, [row], root="service_requests", item="request"))
