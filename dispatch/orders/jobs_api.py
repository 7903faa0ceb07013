"""``GET /api/v1/me/jobs``: the signed-in worker's (or organisation admin's) itinerary."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from dispatch.deps import Ctx, Db, require_roles
from dispatch.errors import BadRequest
from dispatch.geo.coords import to_wgs84
from dispatch.orders.jobs import Here, jobs_of
from dispatch.orders.schemas import JobOut, JobsOut
from dispatch.residents.privacy import PROVIDERS
from models import User

router = APIRouter(prefix="/api/v1/me", tags=["field work"])

FieldUser = Annotated[User, Depends(require_roles(*PROVIDERS))]


@router.get("/jobs", response_model=JobsOut)
def my_jobs(
    db: Db,
    ctx: Ctx,
    user: FieldUser,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="where the worker is (with lng)")] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180, description="where the worker is (with lat)")] = None,
    coord_system: Literal["wgs84", "gcj02", "bd09"] = "wgs84",
) -> JobsOut:
    """The orders signed for (accepted, in service) and the offers waiting, in visit order, each
    with the resident as the worker may see them, the map links, the safety notice and the
    distance from here. Reading the cards of held orders is recorded (personal data)."""
    if (lat is None) != (lng is None):
        raise BadRequest(
            "give both lat and lng, or neither",
            code="invalid_position",
            message="纬度和经度须同时填写，或都不填",
        )
    here = None
    if lat is not None and lng is not None:
        here = Here(*to_wgs84(lat, lng, coord_system))
    cards = jobs_of(
        db, user, here=here, region=ctx.settings.locale.default_region, tz=ctx.tz, now=ctx.clock.now()
    )
    return JobsOut(items=[JobOut(**c) for c in cards], total=len(cards))
