"""Phone numbers to E.164."""

from __future__ import annotations

import pytest

from dispatch.residents.phones import InvalidPhone, mask, normalise_phone, try_normalise
from models import PhoneKind


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("13800138000", "+8613800138000", PhoneKind.MOBILE),
        ("138-0013-8000", "+8613800138000", PhoneKind.MOBILE),
        ("138 0013 8000", "+8613800138000", PhoneKind.MOBILE),
        ("+86 138 0013 8000", "+8613800138000", PhoneKind.MOBILE),
        ("0086 13800138000", "+8613800138000", PhoneKind.MOBILE),
        ("008613800138000", "+8613800138000", PhoneKind.MOBILE),
        ("86 13800138000", "+8613800138000", PhoneKind.MOBILE),
        ("0571-88881234", "+8657188881234", PhoneKind.LANDLINE),
        ("(0571)88881234", "+8657188881234", PhoneKind.LANDLINE),
        ("+86 571 8888 1234", "+8657188881234", PhoneKind.LANDLINE),
        ("010-62345678", "+861062345678", PhoneKind.LANDLINE),
        ("+1 415 555 2671", "+14155552671", PhoneKind.MOBILE),
    ],
)
def test_normalises(raw: str, e164: str, kind: PhoneKind) -> None:
    phone = normalise_phone(raw, "CN")
    assert phone.e164 == e164
    if raw.startswith("+1"):
        return  # US numbers are "fixed line or mobile"
    assert phone.kind == kind


@pytest.mark.parametrize("raw", ["", "   ", "12345", "138001380001", "abc", "110", "+86", "1" * 40])
def test_rejects(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        normalise_phone(raw, "CN")
    assert try_normalise(raw) is None


def test_mask() -> None:
    assert mask("+8613800138000") == "+86138****8000"
