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


def test_orphan_files_are_swept_once_old(client, assigned, session_factory, settings) -> None:
    """A file no row points at (a process killed between the rename and the commit, a killed
    upload's temporary file) goes once older than the grace period; recorded photos, young files
    and files outside the order directories stay; the loop's job runs once per interval."""
    import os
    from datetime import UTC, datetime, timedelta

    from dispatch.db import transaction
    from dispatch.orders.upload_sweep import sweep, sweep_when_due

    order, worker, _ = assigned
    assert upload(client, order["id"], worker).status_code == 201
    root = Path(settings.uploads.dir)
    folder = root / str(order["id"])
    kept = next(folder.iterdir())
    orphan = folder / "0123456789abcdef0123456789abcdef.jpg"
    orphan.write_bytes(JPEG)
    partial = folder / ".upload-x.part"
    partial.write_bytes(b"half")
    young = folder / "fedcba9876543210fedcba9876543210.png"
    young.write_bytes(PNG)
    stranger = root / "README.txt"  # not in an order directory: not ours
    stranger.write_text("x")
    empty = root / "999999"  # an order directory left empty
    empty.mkdir()
    now = datetime.now(UTC)
    old = (now - timedelta(hours=3)).timestamp()
    for path in (kept, orphan, partial, stranger):
        os.utime(path, (old, old))

    with transaction(session_factory) as s:
        listed = sweep(s, root, older_than=now - timedelta(hours=1), dry_run=True)
    assert sorted(listed.removed) == sorted(f"{order['id']}/{p.name}" for p in (orphan, partial))
    assert orphan.exists() and partial.exists()  # a dry run removes nothing

    with transaction(session_factory) as s:
        assert sweep_when_due(s, root, now=now, interval=timedelta(hours=1), grace=timedelta(hours=1)) == 2
    assert not orphan.exists() and not partial.exists() and not empty.exists()
    assert kept.exists() and young.exists() and stranger.exists()
    served = client.get(
        f"/api/v1/orders/{order['id']}/photos/{upload_id(client, order, worker)}", headers=worker
    )
    assert served.status_code == 200 and served.content == JPEG

    # Within the interval no instance sweeps again, whatever is left; after it, it does.
    orphan.write_bytes(JPEG)
    os.utime(orphan, (old, old))
    with transaction(session_factory) as s:
        assert (
            sweep_when_due(
                s,
                root,
                now=now + timedelta(minutes=30),
                interval=timedelta(hours=1),
                grace=timedelta(hours=1),
            )
            == 0
        )
    with transaction(session_factory) as s:
        assert (
            sweep_when_due(
                s,
                root,
                now=now + timedelta(minutes=61),
                interval=timedelta(hours=1),
                grace=timedelta(hours=1),
            )
            == 2
        )
    # The young file is an orphan too, and by this later clock an old one.
    assert not orphan.exists() and not young.exists() and kept.exists()
    assert stored(session_factory, settings)[0] == 1


def upload_id(client, order, headers) -> int:
    return client.get(f"/api/v1/orders/{order['id']}/photos", headers=headers).json()["items"][0]["id"]
