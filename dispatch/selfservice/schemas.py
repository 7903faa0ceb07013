"""The residents' API payloads (``/api/v1/r``): sign-in by SMS code, the resident's own record,
their requests, and the public catalogue and address completion the app types against."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import BaseModel, Field, field_validator, model_validator

from dispatch.errors import InvalidValue
from dispatch.inputs import AwareTime, NotAFlag, Payload
from dispatch.orders.schemas import MAX_DESCRIPTION
from dispatch.selfservice.codes import CODE_LENGTH

ResidentChannel = Literal["web", "app"]
CHANNEL_FIELD = Field(
    "web", description="web: the residents' web app in a browser; app: installed on the phone's home screen"
)


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise InvalidValue("must not be empty", message="不能为空")
    return value


# --- sign-in ---------------------------------------------------------------------------------------


class CodeIn(Payload):
    phone: str = Field(min_length=1, max_length=32, description="a mainland mobile number: 13912345678")


class CodeSent(BaseModel):
    sent: bool = True
    expires_in: int = Field(description="seconds the code is valid")
    resend_after: int = Field(description="seconds before another code may be asked for")


class TokenIn(Payload):
    phone: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=1, max_length=16, description="the six digits of the SMS (400 otherwise)")


class MeOut(BaseModel):
    id: int
    name: str = Field(description="empty until the resident (or the call centre) gives one")
    phone: str = Field(description="the number signed in with, E.164")
    address: str
    community: str | None = Field(description="the community (社区) of the registered address, if known")


class ResidentTokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    resident: MeOut


class MePatch(Payload):
    name: str | None = Field(None, min_length=1, max_length=50)
    address: str | None = Field(None, min_length=1, max_length=300)

    _filled = field_validator("name", "address")(_not_blank)


# --- public: what the app shows before and while a request is typed ------------------------------


class ConfigOut(BaseModel):
    hotline: str
    max_photos: int
    max_photo_mb: float
    code_length: int = CODE_LENGTH
    enabled: bool


class CatalogueItemOut(BaseModel):
    code: str
    name: str
    description: str = Field(description="what residents call it: a few of the item's everyday words")
    safety_notice: str = Field(description="shown before submitting; empty for most items")
    home_visit: bool


class CatalogueCategoryOut(BaseModel):
    code: str
    name: str
    items: list[CatalogueItemOut]


class CatalogueOut(BaseModel):
    categories: list[CatalogueCategoryOut]


class SuggestionOut(BaseModel):
    item_code: str
    category_code: str
    name: str
    category_name: str
    score: float
    safety_notice: str


class SuggestOut(BaseModel):
    suggestions: list[SuggestionOut]


class PlaceOut(BaseModel):
    text: str = Field(description="the place as an address begins: 阳光花园, 阳光花园 3幢, 文三路")
    kind: Literal["road", "compound", "building", "landmark"]
    community: str | None
    lat: float = Field(description="WGS-84, rounded to 4 decimals (about 10 m)")
    lon: float


class PlacesOut(BaseModel):
    places: list[PlaceOut]


# --- requests ---------------------------------------------------------------------------------------


class RequestIn(Payload):
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    item_code: str | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="the item the resident tapped; omitted: the best suggestion",
    )
    address: str = Field(min_length=1, max_length=300)
    lat: float | None = Field(None, ge=-90, le=90, description="the phone's position, with lon")
    lon: float | None = Field(None, ge=-180, le=180)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = Field(
        "wgs84", description="wgs84: the browser's position; gcj02 / bd09: picked on a Chinese map"
    )
    preferred_from: AwareTime | None = Field(None, description="the visit window the resident asks for")
    preferred_to: AwareTime | None = None
    channel: ResidentChannel = CHANNEL_FIELD

    _filled = field_validator("description", "address")(_not_blank)

    @model_validator(mode="after")
    def _together(self) -> RequestIn:
        if (self.lat is None) != (self.lon is None):
            raise InvalidValue("give both lat and lon, or neither", message="纬度和经度须同时填写，或都不填")
        if (self.preferred_from is None) != (self.preferred_to is None):
            raise InvalidValue(
                "give both preferred_from and preferred_to, or neither",
                message="预约时间须同时填写开始和结束，或都不填",
            )
        if self.preferred_from and self.preferred_to and self.preferred_to <= self.preferred_from:
            raise InvalidValue(
                "preferred_to must be after preferred_from", message="预约时间：结束须晚于开始"
            )
        return self


class TimelineStepOut(BaseModel):
    at: datetime
    code: Literal["received", "dispatched", "arrived", "completed", "rated", "rework", "cancelled"]
    text: str


class RatingOut(BaseModel):
    stars: int
    comment: str


class RequestSummaryOut(BaseModel):
    id: int
    number: str
    status: str = Field(description="received, offered, accepted, in_service, completed, closed, cancelled")
    status_text: str = Field(description="the status in plain words: 已受理, 正在安排, 已安排服务人员 …")
    item_code: str
    item_name: str
    category_name: str
    description: str
    address: str
    created_at: datetime
    preferred_from: datetime | None
    preferred_to: datetime | None


class RequestOut(RequestSummaryOut):
    safety_notice: str
    provider_name: str | None = Field(description="the organisation's name, once someone signed for it")
    worker_first_name: str | None = Field(
        description="the worker as residents address them: surname + 师傅 (an organisation's worker) or "
        "社工 (an independent social worker); never the full name"
    )
    timeline: list[TimelineStepOut]
    photos: list[int] = Field(description="ids of the resident's photos (GET …/photos/{photo_id})")
    can_cancel: bool
    can_rate: bool
    can_rework: bool
    rating: RatingOut | None


class RequestList(BaseModel):
    items: list[RequestSummaryOut]
    total: int


class CancelIn(Payload):
    reason: str | None = Field(None, max_length=300)
    channel: ResidentChannel = CHANNEL_FIELD


class RateIn(Payload):
    stars: Annotated[int, Interval(ge=1, le=5), NotAFlag] = Field(description="5 非常满意 … 1 非常不满意")
    comment: str = Field("", max_length=500)
    channel: ResidentChannel = CHANNEL_FIELD


class ReworkIn(Payload):
    reason: str | None = Field(None, max_length=300, description="what is still wrong")
    channel: ResidentChannel = CHANNEL_FIELD


class PhotoOut(BaseModel):
    id: int
    content_type: str
    bytes: int
    created_at: datetime
    url: str
