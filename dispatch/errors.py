"""One error hierarchy; one handler in ``dispatch.app`` turns it into ``{"error", "detail"}``."""

from __future__ import annotations


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


def role_refused(allowed: object, role: object) -> Forbidden:
    """The one wording of "your role may not do this" (``allowed``: roles, ``role``: yours)."""
    names = ", ".join(sorted(getattr(r, "value", str(r)) for r in allowed))  # type: ignore[attr-defined]
    return Forbidden(f"this needs one of the roles: {names} (you are {getattr(role, 'value', role)})")


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"
