"""A new offer reaches the worker's phone at once: over the event stream of a real server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dispatch.app import create_app
from dispatch.benchmarks.telephony import serve_in_thread
from models import Role
from tests.factories import add_provider, bearer, make_user
from tests.test_streams import Stream, ticket_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def server(settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as base:
        yield base


def _headers(session_factory, settings, role: Role, **kw: Any) -> dict[str, str]:
    with session_factory() as s:
        user = make_user(s, role=role, **kw)
        s.commit()
    return bearer(user, settings)


def test_an_offer_reaches_the_workers_stream(server, world, session_factory, settings) -> None:
    pid = add_provider(session_factory, world, km=0.5)
    worker = _headers(session_factory, settings, Role.WORKER, provider_id=pid)
    operator = _headers(session_factory, settings, Role.OPERATOR)
    with Stream(f"{server}/api/v1/events", ticket=ticket_for(server, worker)["ticket"]) as stream:
        assert stream.until("hello")["role"] == "worker"
        r = httpx.post(
            f"{server}/api/v1/orders",
            json={
                "caller_phone": "13800138000",
                "description": "厨房水管漏水",
                "item_code": "HOME-01",
                "channel": "phone",
                "address": "阳光花园3幢",
            },
            headers=operator,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        order = r.json()
        assert order["status"] == "offered"  # auto-dispatched to the one provider
        # The order's change and the offer, in either order.
        frames: dict[str, Any] = {}
        while not {"order", "offer"} <= frames.keys():
            frame = stream.next()
            assert frame is not None, "the stream ended"
            frames.setdefault(frame[0], frame[1])
        offer = frames["offer"]
        assert offer["order_id"] == order["id"] and offer["number"] == order["number"]
        assert offer["item_name"] == "水电维修" and offer["address"] == "阳光花园3幢"
        assert offer["distance_km"] == pytest.approx(0.5, abs=0.05) and offer["sign_by"]
        assert "13800138000" not in str(offer) and "caller_phone" not in offer
        assert frames["order"]["id"] == order["id"] and frames["order"]["status"] == "offered"
