"""``GET /metrics`` for Prometheus: from ``[metrics] allow`` addresses, or with ``[metrics] token``."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dispatch.auth.addresses import trusted_networks
from dispatch.deps import ClientAddress, Ctx
from dispatch.errors import Forbidden
from dispatch.ops.metrics import DatabaseCollector, render

router = APIRouter(tags=["system"])


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _allowed_address(address: str, allow: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # "unknown", a test client's name
        return False
    return any(ip in net for net in trusted_networks(tuple(allow)))


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, ctx: Ctx, address: ClientAddress) -> Response:
    settings = ctx.settings.metrics
    token = _bearer(request)
    by_token = (
        bool(settings.token)
        and token is not None
        and hmac.compare_digest(token.encode(), settings.token.encode())
    )
    if not by_token and not _allowed_address(address, settings.allow):
        raise Forbidden(
            f"metrics are readable from [metrics] allow or with the metrics token; not from {address}",
            message="无权读取监控指标：请从允许的地址访问，或携带正确的监控令牌",
        )
    state = getattr(request.app.state, "process_state", None)
    if state is not None:
        state.sample()  # this worker's own gauges, current to the scrape
    body, content_type = render(DatabaseCollector(ctx.sessions, ctx.clock.now))
    return Response(body, media_type=content_type)
