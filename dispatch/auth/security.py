"""Password hashes (argon2) and access tokens (JWT, HS256).

A token names its user (``sub``) and the account's ``token_version`` when it was issued
(``ver``). Every change that must end the account's sign-ins raises the version
(``dispatch.auth.users``), so every token issued before it is refused from then on.
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
