"""Sign-in codes for the residents' app: six digits by SMS, valid a few minutes, a few tries.

**Storage.** Only ``HMAC-SHA256(key, phone + code)`` is kept, the key derived from ``[auth]
jwt_secret``, which lives in the server's configuration and never in the database. A code has a
million values, so any hash without a secret key, argon2 included, is undone by trying them all:
whoever reads the table (a leaked backup, a read-only SQL account) could recover a live code with
enough cores before it expires. With the key outside the table, the table alone says nothing, and
checking a code costs microseconds: a flood of wrong codes takes no CPU, where an argon2 check per
try would hand an attacker the cores the staff sign-ins' limiter exists to protect. The SMS that
carries the code is an outbox row until it is handed to the provider; the sender then keeps it
with the code masked (``outbox.sender``: ``sent_body``), and never sends it once it has expired.

**Limits** (``[residents_app]``), counted from the rows, so they hold across processes and
restarts: one code per number every ``resend_seconds``, ``daily_limit`` codes per number in any 24
hours, ``address_hourly_limit`` codes asked for by one client address in any hour; past one, a 429
with ``Retry-After`` until the limit allows another. A code is burnt after ``max_tries`` wrong
tries; a new code replaces the number's earlier ones (only the latest is ever checked).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from dispatch.errors import TooManyRequests
from dispatch.outbox import messages
from models import OutboxMessage, ResidentSignInCode

CODE_LENGTH = 6
DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class CodeRules:
    ttl: timedelta
    max_tries: int
    resend: timedelta
    daily_limit: int
    address_hourly_limit: int


def code_key(secret: str) -> bytes:
    """The HMAC key of sign-in codes, derived from the token secret (a key of its own purpose:
    a code's digest is never a valid token signature, nor the other way round)."""
    return hmac.new(secret.encode(), b"sanshe resident sign-in code", hashlib.sha256).digest()


def code_digest(key: bytes, phone: str, code: str) -> str:
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def well_formed(code: str) -> bool:
    """Six ASCII digits (a typo is answered without using up a try)."""
    return len(code) == CODE_LENGTH and code.isascii() and code.isdigit()


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def _in_words(seconds: float) -> tuple[int, str]:
    wait = max(1, math.ceil(seconds))
    if wait < 120:
        return wait, f"{wait} 秒"
    if wait < 2 * 3600:
        return wait, f"{math.ceil(wait / 60)} 分钟"
    return wait, f"{math.ceil(wait / 3600)} 小时"


def _serialise(session: Session, phone: str, address: str) -> None:
    """One code request at a time per number and per address, so two parallel requests cannot
    both pass a limit. SQLite needs nothing: a write transaction holds its one writer lock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in (f"sanshe-code-phone:{phone}", f"sanshe-code-address:{address}"):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def _window_wait(times: list[datetime], limit: int, window: timedelta, now: datetime) -> float:
    """Seconds until fewer than ``limit`` of ``times`` (oldest first) lie within ``window`` of now."""
    if len(times) < limit:
        return 0.0
    frees = times[len(times) - limit] + window  # once this one leaves the window, one is free
    return max(0.0, (frees - now).total_seconds())


def _times(session: Session, column: object, value: str, since: datetime) -> list[datetime]:
    c = ResidentSignInCode
    return list(
        session.scalars(
            select(c.created_at).where(column == value, c.created_at > since).order_by(c.created_at)  # type: ignore[operator]
        )
    )


def check_limits(session: Session, *, phone: str, address: str, now: datetime, rules: CodeRules) -> None:
    """``TooManyRequests`` when ``phone`` may not get another code now, or ``address`` ask for one."""
    sent = _times(session, ResidentSignInCode.phone, phone, now - DAY)
    if sent and now - sent[-1] < rules.resend:
        wait, words = _in_words((sent[-1] + rules.resend - now).total_seconds())
        raise TooManyRequests(
            f"a code was sent to this number less than {rules.resend.seconds} seconds ago; "
            f"ask again in {wait} seconds",
            code="code_resend_too_soon",
            message=f"验证码已发送，请查看短信；如未收到，请 {words}后再重新获取",
            retry_after=wait,
        )
    daily = _window_wait(sent, rules.daily_limit, DAY, now)
    if daily > 0:
        wait, words = _in_words(daily)
        raise TooManyRequests(
            f"this number got {rules.daily_limit} codes in the last 24 hours; ask again in {wait} seconds",
            code="code_daily_limit",
            message=f"此号码 24 小时内获取验证码已达 {rules.daily_limit} 次，请 {words}后再试，"
            "或拨打服务热线",
            retry_after=wait,
        )
    asked = _times(session, ResidentSignInCode.address, address, now - HOUR)
    hourly = _window_wait(asked, rules.address_hourly_limit, HOUR, now)
    if hourly > 0:
        wait, words = _in_words(hourly)
        raise TooManyRequests(
            f"{rules.address_hourly_limit} codes were asked for from this address within an hour; "
            f"ask again in {wait} seconds",
            code="code_address_limit",
            message=f"当前网络获取验证码过于频繁，请 {words}后再试",
            retry_after=wait,
        )


def code_sms(
    phone: str, code: str, *, rules: CodeRules, now: datetime, expires_at: datetime
) -> OutboxMessage:
    """The SMS with the code: sent at once, never after it expires, kept masked once sent."""
    minutes = max(1, round(rules.ttl.total_seconds() / 60))
    body = "【社区服务】您的登录验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人；如非本人操作，请忽略本短信。"
    return messages.sms(
        phone,
        body.format(code=code, minutes=minutes),
        kind="sign_in_code",
        now=now,
        valid_until=expires_at.isoformat(),
        sent_body=body.format(code="*" * CODE_LENGTH, minutes=minutes),
    )


@dataclass(frozen=True)
class Issued:
    expires_at: datetime
    message_id: int  # the outbox row of its SMS


def issue_code(
    session: Session, *, phone: str, address: str, now: datetime, rules: CodeRules, key: bytes
) -> Issued:
    """A new code for ``phone`` (E.164), asked for from ``address``: its row (the HMAC only) and
    its SMS in the outbox, in the caller's transaction. ``TooManyRequests`` past a limit."""
    _serialise(session, phone, address)
    check_limits(session, phone=phone, address=address, now=now, rules=rules)
    code = new_code()
    expires_at = now + rules.ttl
    session.add(
        ResidentSignInCode(
            phone=phone,
            code_hash=code_digest(key, phone, code),
            address=address,
            created_at=now,
            expires_at=expires_at,
            tries=0,
        )
    )
    sms = code_sms(phone, code, rules=rules, now=now, expires_at=expires_at)
    messages.add(session, sms)
    return Issued(expires_at=expires_at, message_id=sms.id)


class Verdict(enum.StrEnum):
    OK = "ok"
    WRONG = "wrong"  # tries left
    EXHAUSTED = "exhausted"  # too many wrong tries: burnt
    EXPIRED = "expired"
    NONE = "none"  # no code asked for, or the latest was used already


@dataclass(frozen=True)
class Checked:
    verdict: Verdict
    tries_left: int = 0


def check_code(
    session: Session, *, phone: str, code: str, now: datetime, rules: CodeRules, key: bytes
) -> Checked:
    """Check ``code`` against the number's latest code; a wrong one uses up a try, a right one the
    code. The caller commits whatever the verdict (a wrong try must count)."""
    c = ResidentSignInCode
    row = session.scalar(
        select(c)
        .where(c.phone == phone)
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.used_at is not None:
        return Checked(Verdict.NONE)
    if row.tries >= rules.max_tries:
        return Checked(Verdict.EXHAUSTED)
    if now >= row.expires_at:
        return Checked(Verdict.EXPIRED)
    if not hmac.compare_digest(row.code_hash, code_digest(key, phone, code)):
        tries = session.scalar(
            update(c)
            .where(c.id == row.id, c.tries < rules.max_tries, c.used_at.is_(None))
            .values(tries=c.tries + 1)
            .returning(c.tries)
            .execution_options(synchronize_session=False)
        )
        left = rules.max_tries - tries if tries is not None else 0
        return Checked(Verdict.WRONG, left) if left > 0 else Checked(Verdict.EXHAUSTED)
    used = session.execute(
        update(c)
        .where(c.id == row.id, c.used_at.is_(None), c.tries < rules.max_tries)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return Checked(Verdict.OK) if used.rowcount == 1 else Checked(Verdict.NONE)


def prune(session: Session, *, before: datetime) -> int:
    """Delete codes created before ``before`` (the limits look back 24 hours at most)."""
    done = session.execute(
        delete(ResidentSignInCode)
        .where(ResidentSignInCode.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount or 0
