"""Catalogue payloads for admin edits."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, Field, field_validator

from dispatch.errors import InvalidValue
from dispatch.inputs import Flag, NotAFlag, Payload

CODE_PATTERN = r"^[A-Z][A-Z0-9-]{1,19}$"


def _clean_keywords(words: list[str] | None) -> list[str] | None:
    if words is None:
        return None
    cleaned = []
    for w in words:
        w = w.strip()
        if not w:
            continue
        if "|" in w:
            raise InvalidValue(f"keyword {w!r} must not contain '|'", message=f"关键词“{w}”不能包含“|”")
        if len(w) > 40:
            raise InvalidValue(
                f"keyword {w!r} is longer than 40 characters", message=f"关键词“{w}”超过 40 个字"
            )
        cleaned.append(w)
    return list(dict.fromkeys(cleaned))


class CategoryIn(Payload):
    code: str = Field(pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1, max_length=50)
    name_en: str = Field("", max_length=100)


class CategoryPatch(Payload):
    name_zh: str | None = Field(None, min_length=1, max_length=50)
    name_en: str | None = Field(None, max_length=100)
    active: Flag | None = None


class ItemIn(Payload):
    code: str = Field(pattern=CODE_PATTERN)
    category_code: str = Field(min_length=1, max_length=20)
    name_zh: str = Field(min_length=1, max_length=50)
    name_en: str = Field("", max_length=100)
    sla_class: str = Field(pattern="^(urgent|priority|normal|consult)$")
    home_visit: Flag = True
    keywords: list[str] = Field(default_factory=list, max_length=200)
    notice: str = Field("", max_length=1000)

    _kw = field_validator("keywords")(_clean_keywords)


class ItemPatch(Payload):
    name_zh: str | None = Field(None, min_length=1, max_length=50)
    name_en: str | None = Field(None, max_length=100)
    sla_class: str | None = Field(None, pattern="^(urgent|priority|normal|consult)$")
    home_visit: Flag | None = None
    keywords: list[str] | None = Field(None, max_length=200)
    notice: str | None = Field(None, max_length=1000)
    active: Flag | None = None
    sign_for_limit: Annotated[int, Interval(ge=1, le=100_000), NotAFlag] | None = None
    complete_limit: Annotated[int, Interval(ge=1, le=100_000), NotAFlag] | None = None

    _kw = field_validator("keywords")(_clean_keywords)


class ReasonOut(BaseModel):
    phrase: str = Field(description="the item's vocabulary phrase")
    matched: str = Field(description="the words of the request it matched (normalised)")
    weight: float = Field(description="how much it counted")


class SuggestionItem(BaseModel):
    item_code: str
    category_code: str
    name: str
    score: float
    why: list[ReasonOut] | None = Field(None, description="with explain=true: what matched")


class SuggestOut(BaseModel):
    suggestions: list[SuggestionItem]
