"""Residents' personal data: who sees what, and how the rest is masked. The one policy.

A resident's phone numbers, name, vulnerability tags and address are personal data (PIPL); tags
such as 残疾 or 失能 are sensitive personal information. Each role sees the minimum its work needs:

==========================  ===============  ============  ==============  ==========
who, where                  phone            name          tags            resident id
==========================  ===============  ============  ==============  ==========
call centre, lists          masked           surname only  —               yes
call centre, detail         masked, reveal   full          all             yes
operator rung, screen pop   the caller's     full          all             yes
provider holding the order  list: masked;    list: surname visit tags      —
(accepted, in service)      detail: full     detail: full
provider offered / done     masked           —             —               —
exports                     masked           surname only  —               —
admin export with a reason  full             full          all             yes
==========================  ===============  ============  ==============  ==========

"Call centre" is admins, supervisors and operators; "provider" organisation admins and workers, for
the orders they may see at all. The order's service address is shown wherever the order is (a
provider cannot go without it); exports mask its house, building and room numbers. A provider's
intake answers with nothing of the resident (``orders.api``). Calls and callbacks show the
resident's number masked to everyone; the full number is revealed on demand with a reason, and
every reveal is recorded (``dispatch.audit``). Timelines mask the numbers of residents who acted
by SMS or on the phone menu.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException

from models import Order, OrderStatus, Role, User

STAFF = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR})
PROVIDERS = frozenset({Role.ORG_ADMIN, Role.WORKER})
# Who may reveal a masked number (with a reason) and read the resident registry.
REVEALERS = STAFF
# The statuses in which a provider holds an order and works on it at the resident's door.
HELD = frozenset({OrderStatus.ACCEPTED, OrderStatus.IN_SERVICE})
# The tags that matter at the door (how to approach, what help to bring). Benefit statuses
# (低保, 特困, 优抚对象) say nothing the visit needs.
VISIT_TAGS = ("独居老人", "空巢老人", "高龄老人", "残疾", "失能", "留守儿童", "行动不便", "听力差")
UNNAMED = "未留名"


class Sight(enum.StrEnum):
    """How much of a thing a viewer sees."""

    FULL = "full"
    MASKED = "masked"
    NONE = "none"


class Tags(enum.StrEnum):
    ALL = "all"
    VISIT = "visit"
    NONE = "none"


class PhoneAccess(enum.StrEnum):
    """What a viewer can do about an order's phone number (``caller_phone_access``)."""

    FULL = "full"  # it is shown
    REVEAL = "reveal"  # masked; POST /api/v1/phones/reveal with a reason shows it (and records it)
    DETAIL = "detail"  # masked in lists; the order's detail shows it (a provider's own order)
    NONE = "none"  # masked, and not for this viewer


class View(enum.StrEnum):
    LIST = "list"
    DETAIL = "detail"
    INTAKE = "intake"  # the answer to the person who just typed the request


@dataclass(frozen=True, slots=True)
class Exposure:
    """What one viewer sees of the resident behind one order in one view."""

    phone: PhoneAccess
    name: Sight
    tags: Tags
    resident_id: bool

    @property
    def any_personal(self) -> bool:
        """Whether the view shows personal data beyond the service address (then it is recorded)."""
        return self.phone == PhoneAccess.FULL or self.name == Sight.FULL or self.tags != Tags.NONE


_NOTHING = Exposure(PhoneAccess.NONE, Sight.NONE, Tags.NONE, False)


class Audience(enum.StrEnum):
    STAFF = "staff"
    HOLDER = "holder"  # a provider holding the order
    PROVIDER = "provider"  # a provider offered it, or whose work on it is over


# The table above, for orders. A missing pair is "nothing of the resident".
ORDER_POLICY: dict[tuple[Audience, View], Exposure] = {
    (Audience.STAFF, View.LIST): Exposure(PhoneAccess.REVEAL, Sight.MASKED, Tags.NONE, True),
    (Audience.STAFF, View.DETAIL): Exposure(PhoneAccess.REVEAL, Sight.FULL, Tags.ALL, True),
    # The operator typed the number and hears the caller; the answer is what the pop showed.
    (Audience.STAFF, View.INTAKE): Exposure(PhoneAccess.FULL, Sight.FULL, Tags.ALL, True),
    (Audience.HOLDER, View.LIST): Exposure(PhoneAccess.DETAIL, Sight.MASKED, Tags.VISIT, False),
    (Audience.HOLDER, View.DETAIL): Exposure(PhoneAccess.FULL, Sight.FULL, Tags.VISIT, False),
    (Audience.PROVIDER, View.LIST): _NOTHING,
    (Audience.PROVIDER, View.DETAIL): _NOTHING,
    # A provider logging a request learns nothing of the resident: not whether the number is
    # known, not a name, not a registered address (they give the address themselves).
    (Audience.HOLDER, View.INTAKE): _NOTHING,
    (Audience.PROVIDER, View.INTAKE): _NOTHING,
}


def audience(user: User, order: Order, scope: Collection[int] | None) -> Audience:
    """``scope``: ``orders.repository.provider_scope`` (None for the call centre)."""
    if user.role in STAFF:
        return Audience.STAFF
    holds = order.status in HELD and any(
        p is not None and scope is not None and p in scope for p in (order.provider_id, order.worker_id)
    )
    return Audience.HOLDER if holds else Audience.PROVIDER


def order_exposure(user: User, order: Order, scope: Collection[int] | None, view: View) -> Exposure:
    return ORDER_POLICY.get((audience(user, order, scope), view), _NOTHING)


def visible_tags(tags: Iterable[str] | None, which: Tags) -> list[str] | None:
    """The tags a viewer sees; None when tags are not theirs to see (not "none on file")."""
    if which == Tags.NONE:
        return None
    every = list(tags or [])
    return every if which == Tags.ALL else [t for t in every if t in VISIT_TAGS]


# --- masking --------------------------------------------------------------------------------------

_DIGITS = re.compile(r"\d")


def mask_phone(number: str | None, region: str = "CN") -> str:
    """A number as people here write it, its middle hidden: ``138****8000``, ``0571****1234``,
    ``010****9988``; a foreign one ``+1 ****0100``. Text that is no number keeps only its last
    four digits; an empty number stays empty."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, region)
        valid = phonenumbers.is_valid_number(parsed)
    except NumberParseException:
        valid = False
    if not valid:
        digits = "".join(_DIGITS.findall(number))
        return f"****{digits[-4:]}" if len(digits) >= 7 else "****"
    significant = phonenumbers.national_significant_number(parsed)
    if phonenumbers.region_code_for_number(parsed) != region:
        return f"+{parsed.country_code} ****{significant[-4:]}"
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    if significant.startswith("1") and len(significant) == 11:  # a mobile
        return f"{significant[:3]}****{significant[-4:]}"
    area = national.split()[0] if " " in national else national[: -len(significant)] + significant[:3]
    return f"{area}****{significant[-4:]}"  # a landline: its area code and trunk 0 stay


def mask_name(name: str | None) -> str:
    """王秀英 → 王**, 李娜 → 李*: the surname, as a caller is addressed (王女士); 未留名 as it is."""
    name = (name or "").strip()
    if not name or name == UNNAMED:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


# House, building, unit, floor and room numbers: digits, or Chinese numerals before their unit.
_NUMBERS = re.compile(r"[0-9０-９]+|[零〇一二三四五六七八九十百]+(?=[号幢栋楼单元室层户])")


def mask_address(address: str | None) -> str:
    """``文二路168号 翠苑一区 3幢2单元501室`` → ``文二路*号 翠苑一区 *幢*单元*室``: the road and the
    compound (where, roughly), not the door."""
    return _NUMBERS.sub("*", address or "")


# Numbers written into free text (a description, a note): a mobile, or a landline with its area code.
_PHONES_IN_TEXT = re.compile(
    r"(?<![0-9])(?:\+?86[\s-]?)?(?:1[3-9][0-9](?:[\s-]?[0-9]){8}|0[1-9][0-9]{1,2}[\s-]?[0-9]{7,8})(?![0-9])"
)


def mask_phones_in_text(text: str | None, region: str = "CN") -> str:
    """Free text with each phone number in it masked (``联系女儿13912345678`` → ``联系女儿139****5678``)."""
    if not text:
        return text or ""
    return _PHONES_IN_TEXT.sub(lambda m: mask_phone(m.group(0), region), text)


# Timeline actors that are a resident, named by their number: by SMS, on the phone menu, in the
# residents' app (web, app).
RESIDENT_ACTORS = ("sms", "ivr", "web", "app")


def mask_actor(actor: str, region: str = "CN") -> str:
    """A timeline's actor with a resident's number masked: ``sms:+8613800138000`` → ``sms:138****8000``
    (residents rate by SMS, on the phone menu and in their app; staff and providers are named as
    they are)."""
    kind, sep, who = actor.partition(":")
    if sep and kind in RESIDENT_ACTORS and who:
        return f"{kind}:{mask_phone(who, region)}"
    return actor
