"""Resident payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from dispatch.errors import InvalidValue
from dispatch.inputs import Flag

VULNERABILITY_TAGS = (
    "独居老人",
    "空巢老人",
    "高龄老人",
    "残疾",
    "低保",
    "特困",
    "失能",
    "留守儿童",
    "优抚对象",
)


class PhoneOut(BaseModel):
    e164: str | None = Field(
        description="E.164 where the whole number is shown (the caller's, in a screen pop), else null"
    )
    national: str = Field(description="as people here write it, or masked (138****8000)")
    kind: str
    is_primary: bool


class ResidentOut(BaseModel):
    id: int
    name: str
    phones: list[PhoneOut]
    address: str
    lat: float | None
    lon: float | None
    community_id: int | None
    grid_id: int | None
    tags: list[str]
    consent: bool
    note: str
    score: float | None = None


class ResidentList(BaseModel):
    items: list[ResidentOut]
    total: int


class OrderBrief(BaseModel):
    id: int
    number: str
    status: str
    item_code: str
    description: str
    created_at: datetime
    rating_stars: int | None


class CallBrief(BaseModel):
    id: int
    direction: str
    caller: str = Field(description="masked (138****8000)")
    started_at: datetime
    disposition: str | None
    talk_seconds: int


class RatingBrief(BaseModel):
    order_id: int
    outcome: str
    stars: int | None
    comment: str
    created_at: datetime


class ResidentDetail(ResidentOut):
    open_orders: list[OrderBrief]
    orders: list[OrderBrief]
    calls: list[CallBrief]
    ratings: list[RatingBrief]


# The schema lists the tags; the validator below says what is wrong, in Chinese too.
Tag = Annotated[str, WithJsonSchema({"type": "string", "enum": list(VULNERABILITY_TAGS)})]


class ResidentPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=50)
    tags: list[Tag] | None = Field(None, max_length=20)
    consent: Flag | None = None
    note: str | None = Field(None, max_length=2000)

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, tags: list[str] | None) -> list[str] | None:
        if tags is None:
            return None
        unknown = [t for t in tags if t not in VULNERABILITY_TAGS]
        if unknown:
            raise InvalidValue(
                f"unknown tag(s) {unknown}; known: {', '.join(VULNERABILITY_TAGS)}",
                message=f"没有这些标签：{'、'.join(unknown)}；可选：{'、'.join(VULNERABILITY_TAGS)}",
            )
        return list(dict.fromkeys(tags))
