"""Provider payloads."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import Field, field_validator, model_validator

from dispatch.errors import InvalidValue
from dispatch.inputs import Id, NotAFlag, Payload
from dispatch.timelimits.hours import WorkingHoursIn, check_hours
from models import ProviderKind, ProviderStatus


class ProviderCreate(Payload):
    kind: ProviderKind
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field("", max_length=32)
    items: list[str] = Field(default_factory=list, max_length=120)
    categories: list[str] = Field(default_factory=list, max_length=12)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    address: str = Field("", max_length=300)
    radius_km: float = Field(5.0, gt=0, le=100)
    communities: list[Id] = Field(default_factory=list, max_length=200)
    capacity: Annotated[int, Interval(ge=0, le=1000), NotAFlag] = 5
    organisation_id: Id | None = None
    working_hours: WorkingHoursIn = Field(default_factory=dict)

    _hours = field_validator("working_hours")(check_hours)

    @model_validator(mode="after")
    def _serves_something(self) -> ProviderCreate:
        if not self.items and not self.categories:
            raise InvalidValue(
                "items: give at least one item or category the provider serves",
                message="服务事项：请至少填写一个服务事项或服务类别",
            )
        if self.kind == ProviderKind.ORGANISATION and self.organisation_id is not None:
            raise InvalidValue(
                "organisation_id: an organisation does not belong to another organisation",
                message="所属机构：机构不能隶属于另一个机构，请不要填写",
            )
        return self


class ProviderPatch(Payload):
    name: str | None = Field(None, min_length=1, max_length=100)
    phone: str | None = Field(None, max_length=32)
    items: list[str] | None = Field(None, max_length=120)
    categories: list[str] | None = Field(None, max_length=12)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    address: str | None = Field(None, max_length=300)
    radius_km: float | None = Field(None, gt=0, le=100)
    communities: list[Id] | None = Field(None, max_length=200)
    capacity: Annotated[int, Interval(ge=0, le=1000), NotAFlag] | None = None
    status: ProviderStatus | None = None
    working_hours: WorkingHoursIn | None = None

    _hours = field_validator("working_hours")(check_hours)

    @model_validator(mode="after")
    def _both_or_neither(self) -> ProviderPatch:
        if (self.lat is None) != (self.lon is None):
            raise InvalidValue("give both lat and lon, or neither", message="纬度和经度须同时填写，或都不填")
        return self
