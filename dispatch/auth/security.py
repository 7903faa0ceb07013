"""Password hashes (argon2) and access tokens (JWT, HS256).

A token names its user (``sub``) and the account's ``token_version`` when it was issued
(``ver``). Every change that must end the account's sign-ins raises the version
(``dispatch.auth.users``), so every token issued before it is refused from then on.

Residents' tokens (the residents' app) are signed with the same secret but carry
``aud="resident"`` and ``sub="resident:<id>"``. PyJWT refuses a token with an audience when it is
decoded without one, so :func:`read_token` (every staff endpoint, the event stream's ticket)
never takes a resident's token, and :func:`read_resident_token` asks for the audience, so it
never takes a staff token (which has none).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """A hash of a random password nobody knows, made with the same parameters as real ones.

    A sign-in for an unknown or inactive account verifies against it, so it costs what a real
    one costs and its timing does not say whether the account exists. Made once per process
    (``create_app`` makes it at start-up, so the first such sign-in is not slower either).
    """
    return _hasher.hash(secrets.token_urlsafe(24))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    version: int


def issue_token(*, user_id: int, role: str, version: int, secret: str, now: datetime, minutes: int) -> str:
    claims = {
        "sub": str(user_id),
        "role": role,
        "ver": version,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str) -> TokenClaims | None:
    """The user and token version of a valid, unexpired token; None otherwise (a token without a
    version, from before versions existed, too)."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "ver"]})
        version = claims["ver"]
        if not isinstance(version, int) or isinstance(version, bool):
            return None
        return TokenClaims(user_id=int(claims["sub"]), version=version)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


RESIDENT_AUDIENCE = "resident"
_RESIDENT_SUB = "resident:"


@dataclass(frozen=True, slots=True)
class ResidentClaims:
    resident_id: int
    phone_id: int  # the resident_phone row of the number signed in with
    version: int


def issue_resident_token(
    *, resident_id: int, phone_id: int, version: int, secret: str, now: datetime, minutes: int
) -> str:
    claims = {
        "aud": RESIDENT_AUDIENCE,
        "sub": f"{_RESIDENT_SUB}{resident_id}",
        "pid": phone_id,
        "ver": version,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_resident_token(token: str, *, secret: str) -> ResidentClaims | None:
    """The resident, number and token version of a valid, unexpired resident token; None for
    anything else (a staff token has no audience and is refused here)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=RESIDENT_AUDIENCE,
            options={"require": ["aud", "sub", "exp", "ver", "pid"]},
        )
    except jwt.PyJWTError:
        return None
    sub, version, phone_id = claims["sub"], _whole(claims["ver"]), _whole(claims["pid"])
    if not isinstance(sub, str) or not sub.startswith(_RESIDENT_SUB) or version is None or phone_id is None:
        return None
    digits = sub[len(_RESIDENT_SUB) :]
    if not digits.isdigit() or len(digits) > 10:
        return None
    return ResidentClaims(resident_id=int(digits), phone_id=phone_id, version=version)
