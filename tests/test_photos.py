"""Photos of an order: type by magic bytes, size, six per stage, nothing stored on refusal, who sees them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Attachment, Role
from tests.factories import add_provider

# Only the first bytes decide the type; the rest is filler.
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"j" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 2000
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"w" * 2000
MAX_MB = 0.05  # 52 KB: small photos keep the test quick
pytestmark = pytest.mark.manual_dispatch


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={"uploads": settings.uploads.model_copy(update={"max_photo_mb": MAX_MB})}
    )


def upload(
    client, order_id, headers, data=JPEG, *, stage="visit", name="p.jpg", ctype="image/jpeg", key=None
):
    h = dict(headers)
    if key:
        h["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/orders/{order_id}/photos",
        files={"file": (name, data, ctype)},
        data={"stage": stage},
        headers=h,
    )


def stored(session_factory, settings) -> tuple[int, list[Path]]:
    with session_factory() as s:
        rows = s.scalar(select(func.count()).select_from(Attachment))
    root = Path(settings.uploads.dir)
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return rows, files


def test_a_worker_uploads_and_staff_see_it(
    client, assigned, operator, login, session_factory, settings
) -> None:
    order, worker, _ = assigned
    r = upload(client, order["id"], worker, PNG, ctype="application/octet-stream", name="x.bin")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert (photo["kind"], photo["stage"], photo["content_type"]) == ("photo", "visit", "image/png")
    rows, files = stored(session_factory, settings)
    assert rows == 1 and len(files) == 1
    assert files[0].parent.name == str(order["id"]) and files[0].read_bytes() == PNG
    assert "x.bin" not in files[0].name  # a random name, never the client's

    for reader in (worker, operator):
        listed = client.get(f"/api/v1/orders/{order['id']}/photos", headers=reader).json()
        assert [p["id"] for p in listed["items"]] == [photo["id"]]
        image = client.get(photo["url"], headers=reader)
        assert image.status_code == 200 and image.content == PNG
        assert image.headers["content-type"] == "image/png"
        assert image.headers["cache-control"] == "private, no-store"
        assert image.headers["x-content-type-options"] == "nosniff"

    timeline = client.get(f"/api/v1/orders/{order['id']}", headers=operator).json()["timeline"]
    entry = next(e for e in timeline if e["action"] == "photo")
    assert entry["note"] == "上传服务现场照片" and entry["data"]["attachment_id"] == photo["id"]

    # Another provider's worker: the order is not theirs to see; the call centre uploads nothing.
    stranger = login(Role.WORKER, provider_id=add_provider(session_factory, {"HOME-01": 1}, km=9))
    assert client.get(f"/api/v1/orders/{order['id']}/photos", headers=stranger).status_code == 404
    assert client.get(photo["url"], headers=stranger).status_code == 404
    assert upload(client, order["id"], stranger).status_code == 404
    assert upload(client, order["id"], operator).status_code == 403


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (b"GIF89a" + b"g" * 100, 415, "unsupported_image_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415, "unsupported_image_type"),
        (
            JPEG + b"j" * int(MAX_MB * 1024 * 1024),
            413,
            "image_too_large",
        ),  # over the limit, within the route's
        (JPEG * 200, 413, "payload_too_large"),  # over the route's body limit: not even read
    ],
)
def test_refused_uploads_store_nothing(
    client, assigned, session_factory, settings, data, status, error
) -> None:
    order, worker, _ = assigned
    r = upload(client, order["id"], worker, data, ctype="image/jpeg")
    assert r.status_code == status, r.text
    body = r.json()
    assert (
        body["error"] == error and body["detail"] and any("\u4e00" <= c <= "\u9fff" for c in body["message"])
    )
    assert stored(session_factory, settings) == (0, [])


def test_six_photos_a_stage_then_409(client, assigned, session_factory, settings) -> None:
    order, worker, _ = assigned
    for i in range(6):
        assert upload(client, order["id"], worker, JPEG + bytes([i])).status_code == 201
    r = upload(client, order["id"], worker, WEBP)
    assert r.status_code == 409 and r.json()["error"] == "too_many_photos"
    assert "6" in r.json()["message"]
    assert stored(session_factory, settings)[0] == 6 and len(stored(session_factory, settings)[1]) == 6
    # Another stage has its own six.
    assert upload(client, order["id"], worker, WEBP, stage="completion").status_code == 201


def test_a_resent_upload_creates_nothing_twice(client, assigned, session_factory, settings) -> None:
    order, worker, _ = assigned
    first = upload(client, order["id"], worker, key="phone-1")
    again = upload(client, order["id"], worker, key="phone-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    rows, files = stored(session_factory, settings)
    assert rows == 1 and len(files) == 1
    # The same key for another photo is a mistake, said as such.
    assert upload(client, order["id"], worker, PNG, key="phone-1").status_code == 409


def test_photos_wait_for_the_sign_for(client, world, operator, login, session_factory, settings) -> None:
    from tests.factories import new_order

    pid = add_provider(session_factory, world, km=0.5)
    order = new_order(client, operator)
    assert client.post(f"/api/v1/orders/{order['id']}/dispatch", json={}, headers=operator).status_code == 200
    worker = login(Role.WORKER, provider_id=pid)
    r = upload(client, order["id"], worker)  # offered, not yet signed for
    assert r.status_code == 409 and r.json()["error"] == "not_in_service"
    assert client.get(f"/api/v1/orders/{order['id']}/photos", headers=worker).status_code == 404
    assert stored(session_factory, settings) == (0, [])
