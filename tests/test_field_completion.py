"""Completion with photos and the resident's signature, and the check-out after the check-in."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import select

from models import Attachment, AttachmentKind
from tests.factories import ORDER_POINT, north_of

pytestmark = pytest.mark.manual_dispatch

PNG = b"\x89PNG\r\n\x1a\n" + b"s" * 500
JPEG = b"\xff\xd8\xff\xe0" + b"j" * 500
HERE = {"lat": ORDER_POINT[0], "lon": ORDER_POINT[1]}


def data_url(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def photo(client, order_id, headers, stage="completion") -> int:
    r = client.post(
        f"/api/v1/orders/{order_id}/photos",
        files={"file": ("a.jpg", JPEG, "image/jpeg")},
        data={"stage": stage},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def signatures(session_factory) -> list[Attachment]:
    with session_factory() as s:
        return list(s.scalars(select(Attachment).where(Attachment.kind == AttachmentKind.SIGNATURE)))


def test_complete_with_two_photos_and_a_signature(
    client, assigned, operator, session_factory, settings
) -> None:
    order, worker, _ = assigned
    oid = order["id"]
    assert client.post(f"/api/v1/orders/{oid}/check-in", json=HERE, headers=worker).status_code == 200
    ids = [photo(client, oid, worker), photo(client, oid, worker)]
    r = client.post(
        f"/api/v1/orders/{oid}/complete",
        json={"note": "已更换水管", "photo_ids": ids, "signature": {"image": data_url(PNG)}},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    [sig] = signatures(session_factory)
    assert (Path(settings.uploads.dir) / sig.path).read_bytes() == PNG

    detail = client.get(f"/api/v1/orders/{oid}", headers=operator).json()
    done = next(e for e in detail["timeline"] if e["action"] == "complete")
    assert done["data"]["photo_ids"] == ids
    signed = next(e for e in detail["timeline"] if e["action"] == "signature")
    assert signed["note"] == "居民已签名确认" and signed["data"]["attachment_id"] == sig.id
    # Staff see the signature with the photos.
    listed = client.get(f"/api/v1/orders/{oid}/photos", headers=operator).json()["items"]
    assert {p["kind"] for p in listed} == {"photo", "signature"}


def test_unable_to_sign_needs_a_reason(client, assigned, operator, session_factory) -> None:
    order, worker, _ = assigned
    oid = order["id"]
    r = client.post(
        f"/api/v1/orders/{oid}/complete",
        json={"note": "已修好", "signature": {"unable": True}},
        headers=worker,
    )
    assert r.status_code == 422 and "原因" in r.json()["message"]
    r = client.post(
        f"/api/v1/orders/{oid}/complete",
        json={"note": "已修好", "signature": {"unable": True, "reason": "老人手抖无法书写"}},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    timeline = client.get(f"/api/v1/orders/{oid}", headers=operator).json()["timeline"]
    entry = next(e for e in timeline if e["action"] == "signature")
    assert entry["note"] == "居民无法签名：老人手抖无法书写" and signatures(session_factory) == []


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"signature": {"image": data_url(JPEG, "jpeg")}}, 400, "invalid_signature"),
        ({"signature": {"image": data_url(JPEG)}}, 400, "invalid_signature"),  # says png, is not
        ({"signature": {"image": data_url(PNG + b"x" * 600_000)}}, 413, "image_too_large"),
        ({"signature": {"image": "data:image/png;base64,@@@"}}, 400, "invalid_signature"),
        ({"photo_ids": [999]}, 400, "unknown_photo"),
    ],
)
def test_bad_evidence_changes_nothing(
    client, assigned, session_factory, settings, body, status, error
) -> None:
    order, worker, _ = assigned
    r = client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "已修好", **body}, headers=worker)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error and r.json()["message"]
    assert client.get(f"/api/v1/orders/{order['id']}", headers=worker).json()["status"] == "accepted"
    assert signatures(session_factory) == []
    root = Path(settings.uploads.dir)
    assert not root.exists() or not any(p.is_file() for p in root.rglob("*"))


def test_a_visit_photo_is_no_completion_photo(client, assigned) -> None:
    order, worker, _ = assigned
    visit = photo(client, order["id"], worker, stage="visit")
    r = client.post(
        f"/api/v1/orders/{order['id']}/complete", json={"note": "x", "photo_ids": [visit]}, headers=worker
    )
    assert r.status_code == 400 and r.json()["error"] == "unknown_photo"


def test_the_old_completion_body_still_works(client, assigned) -> None:
    order, worker, _ = assigned
    r = client.post(f"/api/v1/orders/{order['id']}/complete", json={"note": "已修好"}, headers=worker)
    assert r.status_code == 200 and r.json()["status"] == "completed"


def test_check_out_after_check_in_once_and_flagged_when_far(client, assigned, operator) -> None:
    order, worker, _ = assigned
    oid = order["id"]
    detail = client.get(f"/api/v1/orders/{oid}", headers=worker).json()
    assert "check-out" not in detail["allowed_actions"]
    r = client.post(f"/api/v1/orders/{oid}/check-out", json=HERE, headers=worker)
    assert r.status_code == 409 and r.json()["error"] == "not_checked_in"

    assert client.post(f"/api/v1/orders/{oid}/check-in", json=HERE, headers=worker).status_code == 200
    assert "check-out" in client.get(f"/api/v1/orders/{oid}", headers=worker).json()["allowed_actions"]
    assert (
        client.post(f"/api/v1/orders/{oid}/complete", json={"note": "好了"}, headers=worker).status_code
        == 200
    )
    # Completed at the door, then leaving 2 km away: recorded and flagged.
    lat, lon = north_of(ORDER_POINT, 2.0)
    r = client.post(f"/api/v1/orders/{oid}/check-out", json={"lat": lat, "lon": lon}, headers=worker)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["checkout_far"] is True and 1900 < out["checkout_distance_m"] < 2100 and out["checkout_at"]
    detail = client.get(f"/api/v1/orders/{oid}", headers=operator).json()
    assert detail["checkout_far"] is True and "check-out" not in detail["allowed_actions"]
    entry = next(e for e in detail["timeline"] if e["action"] == "check_out")
    assert entry["note"].startswith("离开现场") and "偏远" in entry["note"]
    again = client.post(f"/api/v1/orders/{oid}/check-out", json=HERE, headers=worker)
    assert again.status_code == 409 and again.json()["error"] == "already_checked_out"
    # The call centre does not check out for the worker.
    assert client.post(f"/api/v1/orders/{oid}/check-out", json=HERE, headers=operator).status_code == 403
