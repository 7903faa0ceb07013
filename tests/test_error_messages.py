"""Every error says itself in Chinese: a scan of the raise sites, the validators and the OpenAPI document.

The people at the screens read Chinese. Each error response carries ``message`` beside the stable
``error`` code and the English ``detail`` (``dispatch.errors``); these tests keep it so as the code
grows:

- every construction of an error (an ``AppError`` subclass, an ``InvalidValue`` such as
  ``IntakeError``, ``UserError`` and ``InvalidPhone``) in ``dispatch/`` and ``telephony/`` passes a
  ``message`` written in Chinese (or passes one on: ``message=exc.message``);
- payload validators raise ``InvalidValue``, never a bare ``ValueError`` whose English would be all
  a 422 could say;
- every field the API accepts has a Chinese label for 422 messages;
- the OpenAPI document describes errors as they are: ``ErrorOut``, a 422 too.

The HTTP answers themselves are in ``test_errors_http.py``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from dispatch.validation import FIELD_LABELS, validation_message

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("dispatch", "telephony")
ROOT_ERRORS = frozenset({"AppError", "InvalidValue"})
CJK = re.compile(r"[\u3400-\u9fff]")
# Modules whose validators speak to whoever edits a configuration file, not to the API's users.
NOT_API = frozenset({"dispatch/settings.py"})


@cache
def trees() -> dict[str, ast.Module]:
    found = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[str(path.relative_to(ROOT))] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


@cache
def error_classes() -> frozenset[str]:
    """``AppError``, ``InvalidValue`` and every class that derives from them, however indirectly."""
    known = set(ROOT_ERRORS)
    classes = [n for tree in trees().values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    grew = True
    while grew:
        grew = False
        for cls in classes:
            if cls.name not in known and any(_name(b) in known for b in cls.bases):
                known.add(cls.name)
                grew = True
    return frozenset(known)


@dataclass(frozen=True)
class Construction:
    where: str
    line: int
    name: str
    message: ast.expr | None

    def __str__(self) -> str:
        return f"{self.where}:{self.line} {self.name}(…)"


def constructions() -> list[Construction]:
    names = error_classes()
    found = []
    for where, tree in trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in names:
                message = next((k.value for k in node.keywords if k.arg == "message"), None)
                found.append(Construction(where, node.lineno, _name(node.func), message))
    return found


def says_chinese(expr: ast.expr | None) -> bool:
    """A message written here in Chinese (a string or f-string with CJK text), or one passed on
    from an error that already has it (``exc.message``)."""
    if expr is None:
        return False
    for node in ast.walk(expr):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CJK.search(node.value):
            return True
        if isinstance(node, ast.Attribute) and node.attr == "message":
            return True
    return False


def test_the_scan_knows_the_error_classes_and_finds_the_raise_sites() -> None:
    classes = error_classes()
    expected = {"BadRequest", "Conflict", "Forbidden", "NotFound", "NotAuthenticated", "InvalidTransition"}
    assert expected | {"IntakeError", "UserError", "InvalidPhone"} <= classes
    found = constructions()
    assert len(found) >= 100, len(found)
    assert any(c.name == "Forbidden" and c.where == "dispatch/errors.py" for c in found)  # role_refused
    assert says_chinese(ast.parse('f"工单{n}"', mode="eval").body)
    assert not says_chinese(ast.parse('f"order {n}"', mode="eval").body)
    assert says_chinese(ast.parse("exc.message", mode="eval").body)


def test_every_error_raised_carries_a_chinese_message() -> None:
    missing = [str(c) for c in constructions() if not says_chinese(c.message)]
    assert not missing, "give these a Chinese message=… (what happened and what to do):\n" + "\n".join(
        missing
    )


def test_every_action_and_status_has_a_chinese_name_for_an_illegal_transition() -> None:
    from dispatch.orders.state import ACTION_LABELS_ZH, LABELS_ZH, Action, IllegalTransition, next_status
    from models import OrderStatus

    assert set(ACTION_LABELS_ZH) == set(Action) and set(LABELS_ZH) == set(OrderStatus)
    with pytest.raises(IllegalTransition) as refused:
        next_status(Action.CHECK_IN, OrderStatus.RECEIVED)
    assert refused.value.message == "当前为“已受理”，不能上门签到（“已签收”的工单才能上门签到）"


def _validator_names() -> set[str]:
    """Functions pydantic runs as validators: decorated, or wrapped as ``field_validator(...)(f)``."""
    names: set[str] = set()
    for where, tree in trees().items():
        if where in NOT_API:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call) and _name(d.func) in ("field_validator", "model_validator")
                for d in node.decorator_list
            ):
                names.add(node.name)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Call)
                and _name(node.func.func) in ("field_validator", "model_validator")
            ):
                names.update(_name(a) for a in node.args)
    return names


def test_payload_validators_raise_invalid_value_with_chinese() -> None:
    validators = _validator_names()
    assert {"_not_blank", "check_hours", "_clean_keywords"} <= validators
    bare = []
    for where, tree in trees().items():
        if where in NOT_API:
            continue
        for fn in ast.walk(tree):
            if not (isinstance(fn, ast.FunctionDef) and fn.name in validators):
                continue
            for node in ast.walk(fn):
                raised = node.exc if isinstance(node, ast.Raise) else None
                if isinstance(raised, ast.Call) and _name(raised.func) == "ValueError":
                    bare.append(f"{where}:{node.lineno} in {fn.name}")
    assert not bare, (
        "raise InvalidValue(english, message=chinese), so a 422 says it in Chinese:\n" + "\n".join(bare)
    )


@pytest.fixture(scope="module")
def spec() -> dict:
    from dispatch.app import create_app
    from dispatch.settings import Settings

    # The document is built from the routes alone: no database is opened.
    return create_app(Settings(database_url="sqlite:///unused-openapi.db")).openapi()


def _operations(spec: dict):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _field_names(spec: dict) -> set[str]:
    schemas = spec["components"]["schemas"]
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                walk(schemas[ref.rsplit("/", 1)[-1]])
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, _, operation in _operations(spec):
        names.update(p["name"] for p in operation.get("parameters", []))
        walk(operation.get("requestBody", {}))
    return names


def test_every_field_the_api_accepts_has_a_chinese_label(spec: dict) -> None:
    unlabelled = sorted(n for n in _field_names(spec) if n not in FIELD_LABELS)
    assert not unlabelled, f"add these to dispatch.validation.FIELD_LABELS: {unlabelled}"
    assert all(CJK.search(label) for label in FIELD_LABELS.values())


def test_the_openapi_document_describes_every_error_as_error_out(spec: dict) -> None:
    error_out = spec["components"]["schemas"]["ErrorOut"]
    assert set(error_out["required"]) == {"error", "detail", "message"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    documented = 0
    for path, method, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (path, method, status)
                documented += 1
    assert documented > 100


def test_the_openapi_document_lists_the_statuses_an_operation_can_answer(spec: dict) -> None:
    def statuses(path: str, method: str) -> set[str]:
        return {s for s in spec["paths"][path][method]["responses"] if s.startswith("4")}

    # 404: the body may name a call or a callback that does not exist.
    assert statuses("/api/v1/orders", "post") == {"400", "401", "403", "404", "409", "413", "422"}
    assert statuses("/api/v1/catalogue/items", "post") == {"400", "401", "403", "409", "413", "422"}
    assert "401" in statuses("/api/v1/auth/token", "post")  # the sign-in: a wrong password
    assert statuses("/api/v1/orders/{order_id}/accept", "post") == {"400", "401", "403", "404", "409", "422"}
    assert statuses("/api/v1/orders/{order_id}", "get") >= {"401", "403", "404", "422"}
    assert {"403", "404"} <= statuses("/telephony/twilio/sms", "post")
    assert not statuses("/health", "get") & {"401", "403", "404", "409"}  # public, read-only
    validation = spec["paths"]["/api/v1/orders"]["post"]["responses"]["422"]
    assert validation["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


# --- validation messages, one error type at a time --------------------------------------------------


@pytest.mark.parametrize(
    ("error", "said"),
    [
        ({"type": "missing", "loc": ("body", "description")}, "诉求描述：必填"),
        ({"type": "missing", "loc": ("body",)}, "缺少请求内容"),
        (
            {"type": "string_too_short", "loc": ("body", "description"), "ctx": {"min_length": 1}},
            "诉求描述：不能为空",
        ),
        (
            {"type": "string_too_short", "loc": ("body", "password"), "ctx": {"min_length": 8}},
            "密码：至少 8 个字",
        ),
        (
            {"type": "string_too_long", "loc": ("body", "reason"), "ctx": {"max_length": 300}},
            "原因：最多 300 个字",
        ),
        (
            {"type": "less_than_equal", "loc": ("body", "lat"), "ctx": {"le": 90.0}, "input": 95},
            "纬度：不能大于 90（当前为 95）",
        ),
        (
            {"type": "greater_than_equal", "loc": ("query", "limit"), "ctx": {"ge": 1}, "input": 0},
            "每页条数：不能小于 1（当前为 0）",
        ),
        ({"type": "int_parsing", "loc": ("query", "limit"), "input": "a"}, "每页条数：应为整数"),
        ({"type": "float_parsing", "loc": ("body", "lon"), "input": "x"}, "经度：应为数字"),
        (
            {"type": "enum", "loc": ("body", "channel"), "ctx": {"expected": "'phone', 'sms' or 'visit'"}},
            "受理渠道：可选值：phone、sms、visit",
        ),
        ({"type": "extra_forbidden", "loc": ("body", "colour"), "input": 1}, "colour：不接受此字段，请删去"),
        ({"type": "too_long", "loc": ("body", "items"), "ctx": {"max_length": 120}}, "服务事项：最多 120 项"),
        ({"type": "string_type", "loc": ("body", "items", 2)}, "服务事项第3项：应为文字"),
        ({"type": "json_invalid", "loc": ("body", 7)}, "请求内容不是有效的 JSON 对象"),
        ({"type": "value_error", "loc": ("body",), "ctx": {"error": ValueError("x")}}, "取值无效"),
    ],
)
def test_validation_errors_are_put_in_chinese(error: dict, said: str) -> None:
    assert validation_message([error]) == said


def test_a_validator_s_own_chinese_message_is_used() -> None:
    from dispatch.errors import InvalidValue

    reason = InvalidValue("give both lat and lon, or neither", message="纬度和经度须同时填写，或都不填")
    error = {"type": "value_error", "loc": ("body",), "ctx": {"error": reason}}
    assert validation_message([error]) == "纬度和经度须同时填写，或都不填"
    two = [error, {"type": "missing", "loc": ("body", "channel")}]
    assert validation_message(two) == "纬度和经度须同时填写，或都不填；受理渠道：必填"
