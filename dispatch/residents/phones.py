"""Phone numbers to E.164 with ``phonenumbers``: +86, 0086, 86…, spaces, dashes and brackets."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from dispatch.errors import InvalidValue
from models import PhoneKind

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_LANDLINE_TYPES = {PhoneNumberType.FIXED_LINE, PhoneNumberType.VOIP}


class InvalidPhone(InvalidValue):
    """A phone number that cannot be read; ``message`` says why in words an operator understands."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    kind: PhoneKind


def normalise_phone(raw: str, region: str = "CN") -> Phone:
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("the phone number is empty", message="电话号码为空")
    if len(text) > 32:
        raise InvalidPhone("the phone number is too long", message="电话号码太长（最多 32 个字符）")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        raise InvalidPhone(
            f"{raw!r} is not a phone number ({exc})", message=f"“{raw}”不是电话号码，请核对"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(
            f"{raw!r} is not a valid phone number",
            message=f"“{raw}”不是有效的电话号码，请核对（手机号 11 位，固定电话请带区号）",
        )
    kind_type = phonenumbers.number_type(number)
    if kind_type in _MOBILE_TYPES:
        kind = PhoneKind.MOBILE
    elif kind_type in _LANDLINE_TYPES:
        kind = PhoneKind.LANDLINE
    else:
        kind = PhoneKind.OTHER
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), kind)


def try_normalise(raw: str, region: str = "CN") -> str | None:
    """E.164 when the text is a valid number, else None (for searches and caller-id display)."""
    try:
        return normalise_phone(raw, region).e164
    except InvalidPhone:
        return None


def mask(e164: str) -> str:
    """+8613800138000 → +86138****8000, for places that should not show a whole number."""
    if len(e164) < 8:
        return e164
    return e164[:-8] + "****" + e164[-4:]


def national(number: str, region: str = "CN") -> str:
    """A number as people here write it: ``138 0013 8000``, ``0571 8888 1234`` (the trunk 0 kept);
    a foreign number in international format; text that is not a number as it is."""
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return number
    if not phonenumbers.is_valid_number(parsed):
        return number
    if phonenumbers.region_code_for_number(parsed) != region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def dialable(number: str, region: str = "CN") -> str:
    """The digits to dial from a local line: ``13800138000``, ``057188881234``."""
    return "".join(ch for ch in national(number, region) if ch.isdigit() or ch == "+")
