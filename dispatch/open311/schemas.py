"""The admins' and the call centre's side of Open311: API keys, their uses, requests kept with a token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, Field, model_validator

from dispatch.errors import InvalidValue
from dispatch.inputs import NotAFlag, Payload

RatePerMinute = Annotated[int, Interval(ge=1, le=10000), NotAFlag]


class KeyCreate(Payload):
    name: str = Field(min_length=1, max_length=100, description="the application the key is for")
    contact: str = Field("", max_length=200, description="who to call about it (a person, a phone)")
    rate_per_minute: RatePerMinute | None = Field(
        None, description="requests a minute; none: the [open311] rate_per_minute default"
    )


class KeyOut(BaseModel):
    id: int
    name: str
    contact: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    rate_per_minute: int | None
    created_at: datetime
    last_used_at: datetime | None
    uses: int
    revoked_at: datetime | None


class KeyIssued(KeyOut):
    key: str = Field(description="the API key itself: shown this once, never again (only its hash is kept)")


class KeyList(BaseModel):
    items: list[KeyOut]
    total: int


class KeyUseOut(BaseModel):
    id: int
    at: datetime
    operation: str = Field(
        description="post_request, get_services, get_service, get_requests, get_request, get_token"
    )
    status: int = Field(description="the HTTP status the request ended with")
    reference: str = Field(description="the order number (service_request_id) or token made or read")
    client_address: str


class KeyUseList(BaseModel):
    items: list[KeyUseOut]
    total: int


class PendingOut(BaseModel):
    id: int
    token: str
    application: str
    created_at: datetime
    status: str
    reason: str = Field(description="address_unresolved: the place could not be found")
    service_code: str
    service_name: str
    description: str
    address: str | None
    phone: str = Field(description="masked, as in the call centre's lists")
    resident_name: str | None = Field(description="the surname only")
    order_id: int | None
    note: str


class PendingList(BaseModel):
    items: list[PendingOut]
    total: int


class PendingAccept(Payload):
    address: str | None = Field(None, max_length=300, description="the address as found")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _somewhere(self) -> PendingAccept:
        if (self.lat is None) != (self.lon is None):
            raise InvalidValue("lat and lon go together", message="经纬度须同时填写")
        if self.lat is None and not self.address:
            raise InvalidValue("give the address or lat and lon", message="请填写核实后的地址，或填写经纬度")
        return self


class PendingAccepted(BaseModel):
    order_id: int
    number: str
