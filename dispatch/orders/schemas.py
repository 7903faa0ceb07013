"""Order payloads (the HTTP contract in DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dispatch.errors import InvalidValue
from dispatch.inputs import Flag, Id, NotAFlag, Payload
from models import Channel, Priority, RatingOutcome

MAX_DESCRIPTION = 2000


class VisitConsent(Payload):
    """The resident's consent to a request filed for them on a home visit (channel visit)."""

    given: Flag = Field(description="the resident agreed to the request being filed and their data kept")
    method: Literal["verbal", "signed"] = Field(description="verbal: said so; signed: signed a paper form")
    note: str | None = Field(None, max_length=300)


class OrderCreate(Payload):
    caller_phone: str | None = Field(
        None,
        min_length=1,
        max_length=32,
        description="the resident's number; left out only in a patrol report (channel visit), which "
        "names no resident (a broken stair light)",
    )
    resident_name: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=300)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    item_code: str | None = Field(None, min_length=1, max_length=20)
    priority: Priority | None = None
    channel: Channel
    call_id: Id | None = Field(None, description="the call this order was taken on")
    callback_id: Id | None = Field(
        None, description="taken while returning this callback: it closes as 'order' with this order"
    )
    consent: VisitConsent | None = Field(
        None, description='required with channel "visit": the consent of the resident the request is for'
    )

    @field_validator("description")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise InvalidValue("must not be empty", message="不能为空")
        return v

    @model_validator(mode="after")
    def _both_or_neither(self) -> OrderCreate:
        if (self.lat is None) != (self.lon is None):
            raise InvalidValue("give both lat and lon, or neither", message="纬度和经度须同时填写，或都不填")
        return self

    @model_validator(mode="after")
    def _a_resident_or_a_patrol_report(self) -> OrderCreate:
        """Without a number the request is a patrol report: it names no resident, so it carries
        neither a name nor a resident's consent (there is no one to match them to)."""
        if self.caller_phone is not None:
            return self
        if self.channel != Channel.VISIT:
            raise InvalidValue(
                "caller_phone: required (only a patrol report on a home visit, channel visit, has none)",
                message="来电号码：请填写居民的电话号码（只有上门巡查上报可以不填）",
            )
        if (self.resident_name or "").strip() or self.consent is not None:
            raise InvalidValue(
                "a patrol report (no caller_phone) names no resident: give the resident's number with "
                "their name and consent",
                message="巡查上报不登记居民：填写居民姓名或居民同意时，请同时填写居民的电话号码",
            )
        return self


class SuggestionOut(BaseModel):
    item_code: str
    category_code: str
    name: str
    score: float


class TimelineEntry(BaseModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    note: str
    data: dict[str, object] = {}


class ResidentBrief(BaseModel):
    """The resident as this user may see them (``residents.privacy``)."""

    id: int | None = Field(description="the call centre only")
    name: str = Field(description="in lists the surname only (王**); in full in the detail")
    tags: list[str] | None = Field(
        description="the call centre: all, in the detail; a provider holding the order: those that matter "
        "at the door; null where tags are not shown (not: none on file)"
    )


class OrderOut(BaseModel):
    id: int
    number: str
    status: str
    channel: str
    priority: str
    item_code: str
    category_code: str
    description: str
    caller_phone: str | None = Field(
        description="E.164 where this user sees the whole number, else null (see caller_phone_access)"
    )
    caller_phone_national: str = Field(
        description="as people here write it (a landline keeps its 0), or masked: 138****8000"
    )
    caller_phone_access: Literal["full", "reveal", "detail", "none"] = Field(
        description="full: caller_phone is the number; reveal: POST /api/v1/phones/reveal with a reason "
        "shows it (and is recorded); detail: GET /api/v1/orders/{id} shows it (a provider's own order); "
        "none: not for this user"
    )
    resident_id: int | None = Field(description="the call centre only")
    resident: ResidentBrief | None = Field(
        description="what this user may see of the resident (the call centre; a provider holding the order)"
    )
    address: str
    lat: float | None
    lon: float | None
    community_id: int | None
    grid_id: int | None
    provider_id: int | None
    worker_id: int | None
    sign_by: datetime | None
    complete_by: datetime | None
    callback_due_at: datetime | None
    supervision: str
    overdue: bool
    reopen_count: int
    return_count: int
    supervisor_queue_reason: str | None
    rating_stars: int | None
    possible_duplicate_of: str | None
    preferred_from: datetime | None = Field(
        None, description="the start of the visit window the resident asked for (residents' app)"
    )
    preferred_to: datetime | None = Field(None, description="the end of that window")
    created_at: datetime
    completed_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str] = Field(
        description="the action verbs (POST /api/v1/orders/{id}/<verb>) the signed-in user may use now"
    )
    deadline_uncovered: bool = Field(
        False,
        description=(
            "the order is open and its complete-by (or sign-for) deadline falls on a local day after the "
            "official working-day calendar's end (GET /api/v1/calendar/coverage official_until): it was "
            "counted Monday–Friday there, without the holidays and 调休 not yet entered, and needs checking"
        ),
    )


class OrderCreated(OrderOut):
    safety_notice: str
    suggestions: list[SuggestionOut]
    resident_created: bool | None = Field(
        description="null for providers: they learn nothing of the resident"
    )
    name_mismatch: bool | None = Field(description="null for providers: they learn nothing of the resident")
    location_precision: str | None
    location_source: str | None


class OrderDetail(OrderOut):
    safety_notice: str
    suggestions: list[dict[str, object]]
    completion_note: str
    checkin_distance_m: float | None
    checkin_far: bool
    checkout_at: datetime | None = None
    checkout_distance_m: float | None = None
    checkout_far: bool = False
    consent_method: str | None = Field(
        None, description="a home-visit request: how the resident consented (verbal, signed)"
    )
    timeline: list[TimelineEntry]


class OrderList(BaseModel):
    items: list[OrderOut]
    total: int


# --- actions (POST /api/v1/orders/{id}/<verb>) -------------------------------------------------


class CandidateOut(BaseModel):
    provider_id: int
    name: str
    distance_km: float
    score: float
    reasons: list[str]
    out_of_hours: bool


class RejectedOut(BaseModel):
    provider_id: int
    name: str
    distance_km: float
    reason: str


class CandidatesOut(BaseModel):
    candidates: list[CandidateOut]
    rejected: list[RejectedOut] = []


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider_id: Id | None = Field(None, description="omit to offer to the best candidate")


class ReasonIn(Payload):
    reason: str = Field(min_length=1, max_length=300)


class WithdrawIn(Payload):
    reason: str = Field(min_length=1, max_length=300)
    provider_id: Id | None = Field(None, description="offer it to this provider at once")


class InternalNoteIn(Payload):
    text: str = Field(min_length=1, max_length=2000)


class OfferOut(BaseModel):
    order_id: int
    order_status: str
    offer_id: int | None
    provider_id: int | None
    sign_by: datetime | None = None
    supervisor_queue_reason: str | None = None


class BatchOut(BaseModel):
    orders: int
    assigned: dict[str, int] = Field(description="order number → provider offered it")
    unassigned: list[str]
    failed: dict[str, str] = Field(description="order number → why it could not be offered (in Chinese)")
    total_km: float
    greedy_km: float | None = Field(
        None, description="nearest-first's total, for comparison (plan and offer)"
    )
    greedy_assigned: int | None = None


class PlannedOut(BaseModel):
    order_id: int
    number: str
    item_code: str
    provider_id: int
    provider_name: str
    distance_km: float


class LeftOut(BaseModel):
    order_id: int
    number: str
    reason: str


class BatchPlanOut(BaseModel):
    orders: int = Field(description="waiting orders looked at")
    plan: list[PlannedOut]
    unassigned: list[LeftOut]
    total_km: float
    greedy_km: float
    greedy_assigned: int


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: Id
    provider_id: Id


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignments: list[AssignmentIn] = Field(min_length=1, max_length=500)


class CheckInIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"


class NoteIn(Payload):
    note: str = Field(min_length=1, max_length=2000)


class SignatureIn(Payload):
    """The resident's signature: the image drawn on the worker's screen, or why there is none."""

    image: str | None = Field(
        None,
        description="data:image/png;base64,… (PNG only, at most 512 KB): a 400 for another type, 413 when larger",
    )
    unable: Flag = Field(False, description="true: the resident could not sign (give the reason)")
    reason: str | None = Field(None, max_length=300, description="why the resident could not sign")

    @model_validator(mode="after")
    def _one_of(self) -> SignatureIn:
        if self.unable:
            if self.image is not None:
                raise InvalidValue(
                    "give the image or unable with a reason, not both",
                    message="签名图片与“无法签名”只能二选一",
                )
            if not (self.reason or "").strip():
                raise InvalidValue(
                    "unable: give the reason the resident could not sign", message="请填写居民无法签名的原因"
                )
        elif self.image is None:
            raise InvalidValue(
                "give the image, or unable with a reason", message="请提交签名图片，或注明居民无法签名及原因"
            )
        return self


class CompleteIn(NoteIn):
    photo_ids: list[Id] = Field(
        default_factory=list,
        max_length=6,
        description="completion photos of this order already uploaded (POST …/photos with stage completion)",
    )
    signature: SignatureIn | None = Field(None, description="after the service: the resident's signature")


class RateIn(Payload):
    stars: Annotated[int, Interval(ge=1, le=5), NotAFlag] | None = None
    outcome: RatingOutcome = RatingOutcome.RATED
    comment: str = Field("", max_length=1000)
    channel: Literal["phone", "sms", "ivr", "web", "app", "visit"] = "phone"
    reopen: Flag = Field(False, description="the resident asks for rework (1–2 stars only)")


class ExtendIn(Payload):
    working_days: Annotated[int, Interval(ge=1, le=10), NotAFlag]
    reason: str = Field(min_length=1, max_length=300)


class UrgeIn(Payload):
    note: str = Field("", max_length=300)


class ActionOut(BaseModel):
    order_id: int
    number: str
    status: str
    supervision: str
    complete_by: datetime | None = None
    extension_days: int = 0
    reopen_count: int = 0
    rating_stars: int | None = None
    checkin_distance_m: float | None = None
    checkin_far: bool = False
    checkout_at: datetime | None = None
    checkout_distance_m: float | None = None
    checkout_far: bool = False


# --- photos and signatures (POST/GET /api/v1/orders/{id}/photos) ----------------------------------


class AttachmentOut(BaseModel):
    id: int
    order_id: int
    kind: Literal["photo", "signature"]
    stage: Literal["intake", "visit", "completion"]
    content_type: str = Field(description="image/jpeg, image/png or image/webp, as the bytes say")
    bytes: int
    sha256: str
    created_at: datetime
    url: str = Field(description="GET it (with the bearer token) for the image itself")


class AttachmentList(BaseModel):
    items: list[AttachmentOut]
    total: int


# --- the worker's itinerary (GET /api/v1/me/jobs) ------------------------------------------------


class MapLinks(BaseModel):
    geo: str = Field(description="geo:lat,lon?q=lat,lon(address): the phone's own map app")
    amap: str = Field(description="AMap (高德) marker page / app, WGS-84 point")
    baidu: str = Field(description="Baidu (百度) marker page / app, WGS-84 point")


class JobResident(BaseModel):
    name: str = Field(description="in full on an order the worker holds")
    tags: list[str] = Field(
        description="the tags that matter at the door (行动不便 … as recorded: 独居老人, 残疾 …)"
    )


class JobOut(BaseModel):
    kind: Literal["job", "offer"] = Field(
        description="job: signed for (accepted, in service); offer: to sign for"
    )
    order_id: int
    number: str
    status: str
    priority: str
    item_code: str
    item_name: str
    description: str = Field(
        description="the request as taken (the notes for the visit); offers: numbers masked"
    )
    resident: JobResident | None = Field(description="held orders only; null on an offer")
    caller_phone: str | None = Field(
        description="E.164 on an order the worker holds (tap to call), else null"
    )
    caller_phone_national: str = Field(description="as written here, or masked (138****8000) on an offer")
    caller_phone_access: Literal["full", "reveal", "detail", "none"]
    address: str
    lat: float | None
    lon: float | None
    map_links: MapLinks | None = Field(description="null when the order has no coordinates")
    safety_notice: str
    sign_by: datetime | None = Field(description="an offer: sign for it by then")
    complete_by: datetime | None
    preferred_from: datetime | None = Field(
        None, description="the visit window the resident asked for in the residents' app, if any"
    )
    preferred_to: datetime | None = None
    distance_m: int | None = Field(description="metres from the position given (lat, lng), if both were")
    offer_distance_km: float | None = Field(description="an offer: km from the provider's base, as ranked")
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    allowed_actions: list[str]


class JobsOut(BaseModel):
    items: list[JobOut] = Field(description="in visit order: by the day due, then distance from here")
    total: int
