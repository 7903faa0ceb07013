"""One error hierarchy; one handler in ``dispatch.app`` turns it into ``{"error", "detail", "message"}``.

``error`` is a stable code and ``detail`` the English sentence other tools read; ``message`` says
the same to the person at the screen, in Chinese: what happened and what to do, with the same
facts (numbers, names). Every raise site gives its own ``message`` (``tests/test_error_messages.py``
scans for it); the defaults below answer for errors nobody wrote one for (the framework's).
"""

from __future__ import annotations

# A code's own default, before the status's: the codes the framework and the handler use.
CODE_MESSAGES = {
    "validation_error": "提交的内容有误，请检查后重试",
    "invalid_credentials": "用户名或密码错误",
    "invalid_transition": "工单状态已变化，请刷新后重试",
    "method_not_allowed": "不支持此请求方式",
    "payload_too_large": "提交的内容过大",
    "unsupported_media_type": "不支持此内容类型，请以 JSON 格式提交",
    "internal_error": "服务器内部错误，已记录，请稍后再试",
}
STATUS_MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "无权执行此操作",
    404: "未找到",
    405: "不支持此请求方式",
    409: "操作冲突，请刷新后重试",
    413: "提交的内容过大",
    429: "请求过于频繁，请稍后再试",
    415: "不支持此内容类型，请以 JSON 格式提交",
    422: "提交的内容有误，请检查后重试",
    500: "服务器内部错误，已记录，请稍后再试",
}


def default_message(code: str, status: int) -> str:
    """The Chinese message for an error that brought none: by its code, else by its status."""
    found = CODE_MESSAGES.get(code) or STATUS_MESSAGES.get(status)
    if found:
        return found
    return STATUS_MESSAGES[500] if status >= 500 else "请求未能完成，请稍后再试"


class AppError(Exception):
    status_code = 400
    code = "bad_request"
    # Response headers the error brings (Retry-After); the handler adds them.
    headers: dict[str, str] | None = None

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.message = message or default_message(self.code, self.status_code)


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


# The roles as the console names them (console/static/js/ui.js ROLE_LABELS).
ROLE_LABELS = {
    "admin": "管理员",
    "supervisor": "督办",
    "operator": "坐席",
    "org_admin": "机构管理员",
    "worker": "服务人员",
}


def role_refused(allowed: object, role: object) -> Forbidden:
    """The one wording of "your role may not do this" (``allowed``: roles, ``role``: yours)."""
    values = sorted(getattr(r, "value", str(r)) for r in allowed)  # type: ignore[attr-defined]
    yours = str(getattr(role, "value", role))
    return Forbidden(
        f"this needs one of the roles: {', '.join(values)} (you are {yours})",
        message=f"您的角色（{ROLE_LABELS.get(yours, yours)}）无权执行此操作，"
        f"需要以下角色之一：{'、'.join(ROLE_LABELS.get(v, v) for v in values)}",
    )


class TooManyRequests(AppError):
    """429: wait ``retry_after`` seconds (sent as ``Retry-After``)."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None, message: str) -> None:
        super().__init__(detail, code=code, message=message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class InvalidValue(ValueError):
    """A value that is wrong, said in English (``str(exc)``, the detail) and in Chinese (``message``).

    Domain checks (a phone number, a staff account, an order's intake) raise it, and so do payload
    validators: pydantic keeps the exception in the error's ``ctx``, so a 422 says it in Chinese too.
    """

    def __init__(self, detail: str, *, message: str) -> None:
        super().__init__(detail)
        self.message = message
