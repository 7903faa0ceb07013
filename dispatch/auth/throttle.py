"""Sign-in throttling, counted from the recorded attempts (``login_attempt``), so it holds across
processes and restarts.

Failed sign-ins (a wrong password, an unknown or inactive account) within the window count
against three limits:

- one account from one address (``max_failures_per_account_address``; a success there starts
  the count afresh): someone guessing one person's password;
- one address (``max_failures_per_address``), whatever the accounts: someone trying many;
- one account from all addresses together (``max_failures_per_account``), a campaign from many
  addresses, which applies only to addresses the account has not signed in from successfully
  within ``known_address_days``. An attacker can make the account's owner wait on a new device,
  never at the desk they work from, and only while the campaign goes on.

Past a limit the next sign-in waits ``base × 2^(failures − limit)`` seconds after the last
failure (at most ``max``), whatever the password: the right one gets the same 429 as a wrong
one, so throttled attempts tell nothing and cost no password check. Refused attempts are
recorded (outcome ``throttled``) but do not count, so waiting out the lock is always enough.
An unknown username is throttled exactly like a known one (the answer must not tell them apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from models import LoginAttempt

OK = "ok"
WRONG_PASSWORD = "wrong_password"
UNKNOWN_USER = "unknown_user"
INACTIVE = "inactive"
THROTTLED = "throttled"
# Claimed, the password not yet checked: counts as a failure until it is (a process that dies
# mid-check leaves it so, which errs on the safe side).
PENDING = "pending"


@dataclass(frozen=True)
class ThrottleRules:
    window: timedelta
    per_account_address: int
    per_address: int
    per_account: int
    known_address_for: timedelta
    base_seconds: float
    max_seconds: float


def lock_seconds(failures: int, limit: int, rules: ThrottleRules) -> float:
    """How long sign-ins wait after the last of ``failures`` failures against ``limit``."""
    if failures < limit:
        return 0.0
    # Exponent capped so the power stays a small float whatever the count.
    return min(rules.max_seconds, rules.base_seconds * 2.0 ** min(failures - limit, 40))


def wait_seconds(
    failures: int, last_failure: datetime | None, limit: int, now: datetime, rules: ThrottleRules
) -> float:
    """Seconds from ``now`` until the lock of this count ends (0: not locked)."""
    lock = lock_seconds(failures, limit, rules)
    if last_failure is None or lock == 0:
        # Not locked — also when a parallel attempt, decided a moment after this one's ``now``
        # was read, is already recorded (its time is then after ``now``).
        return 0.0
    return max(0.0, (last_failure + timedelta(seconds=lock) - now).total_seconds())


def _failed() -> ColumnElement[bool]:
    return and_(LoginAttempt.success.is_(False), LoginAttempt.outcome != THROTTLED)


def _failures(session: Session, *where: ColumnElement[bool]) -> tuple[int, datetime | None]:
    row = session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.at)).where(_failed(), *where)
    ).one()
    return int(row[0]), row[1]


def retry_after(
    session: Session, *, username: str, address: str, now: datetime, rules: ThrottleRules
) -> float:
    """Seconds the next sign-in of ``username`` from ``address`` must wait; 0 when it may go ahead."""
    since = now - rules.window
    last_ok_id, last_ok_at = session.execute(
        select(func.max(LoginAttempt.id), func.max(LoginAttempt.at)).where(
            LoginAttempt.username == username,
            LoginAttempt.address == address,
            LoginAttempt.success.is_(True),
        )
    ).one()
    waits = [
        wait_seconds(
            *_failures(
                session,
                LoginAttempt.username == username,
                LoginAttempt.address == address,
                LoginAttempt.at >= since,
                LoginAttempt.id > (last_ok_id or 0),
            ),
            rules.per_account_address,
            now,
            rules,
        ),
        wait_seconds(
            *_failures(session, LoginAttempt.address == address, LoginAttempt.at >= since),
            rules.per_address,
            now,
            rules,
        ),
    ]
    known = last_ok_at is not None and last_ok_at >= now - rules.known_address_for
    if not known:
        waits.append(
            wait_seconds(
                *_failures(session, LoginAttempt.username == username, LoginAttempt.at >= since),
                rules.per_account,
                now,
                rules,
            )
        )
    return max(waits)
