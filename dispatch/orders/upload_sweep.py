"""Files under ``[uploads] dir`` that no attachment row points at, removed once they are old.

A photo is renamed into place before the transaction recording it commits
(:mod:`dispatch.orders.attachments`); a rollback removes it, but a process killed between the
rename and the commit leaves the file behind with no row, and a killed upload leaves its
``.upload-*.part`` temporary file. Such files are only removed once older than a grace period
(``[uploads] orphan_grace_minutes``), so an upload whose transaction is still open is never
touched. Files outside the ``<order id>/`` directories are left alone: they are not ours.

The tracking loop runs the sweep at most once per ``[uploads] sweep_interval_minutes`` across all
instances (a lease row spaces the runs); ``sanshe uploads sweep`` runs it by hand.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.lease import acquire_lease
from models import Attachment

log = logging.getLogger(__name__)

LEASE_NAME = "upload_sweep"
TEMP_PREFIX = ".upload-"


@dataclass(frozen=True, slots=True)
class SweepResult:
    removed: tuple[str, ...]  # paths relative to the root
    kept: int  # files a row points at, or too young to judge

    def __len__(self) -> int:
        return len(self.removed)


def _order_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def sweep(session: Session, root: Path, *, older_than: datetime, dry_run: bool = False) -> SweepResult:
    """Remove the orphan files last modified before ``older_than`` (aware); what was removed."""
    cutoff = older_than.timestamp()
    removed: list[str] = []
    kept = 0
    for folder in _order_dirs(root):
        known = set(session.scalars(select(Attachment.path).where(Attachment.order_id == int(folder.name))))
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            relative = f"{folder.name}/{path.name}"
            try:
                young = path.stat().st_mtime >= cutoff
            except FileNotFoundError:  # removed meanwhile (a rollback)
                continue
            if relative in known or young:
                kept += 1
                continue
            if not dry_run:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            removed.append(relative)
        if not dry_run:
            with contextlib.suppress(OSError):  # only when empty
                folder.rmdir()
    if removed:
        log.info("upload sweep: %d orphan file(s) %s", len(removed), "found" if dry_run else "removed")
    return SweepResult(removed=tuple(removed), kept=kept)


def sweep_when_due(
    session: Session, root: Path, *, now: datetime, interval: timedelta, grace: timedelta
) -> int:
    """The tracking loop's job: sweep if no instance swept within ``interval``; files removed."""
    # A holder unique to this run takes the lease only once the last run's has expired.
    if not acquire_lease(
        session, holder=f"sweep@{now.astimezone(UTC).isoformat()}", now=now, ttl=interval, name=LEASE_NAME
    ):
        return 0
    return len(sweep(session, root, older_than=now - grace))
