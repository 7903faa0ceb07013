"""The residents' app, part one: sign-in by SMS code, the resident's own record, and what the app
reads before a request is typed (``/api/v1/r``; requests are ``requests_api``).

Public (no sign-in): ``/config``, ``/catalogue``, ``/suggest``, ``/places`` and the two sign-in
steps. They serve what anyone may know (the catalogue, the district's place names) from the
caches the call centre's intake uses, in milliseconds; floods are for the reverse proxy to stop
(``deploy/nginx``: ``limit_req`` on ``/api/v1/r/``). The code requests have their own limits per
number and per address (``selfservice.codes``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dispatch.auth.security import issue_resident_token
from dispatch.context import AppContext
from dispatch.db import transaction
from dispatch.deps import ClientAddress, Ctx, CurrentResident, Db, residents_app_on
from dispatch.errors import BadRequest, NotAuthenticated
from dispatch.outbox.sender import send_now
from dispatch.residents.phones import InvalidPhone, Phone, normalise_phone
from dispatch.residents.privacy import UNNAMED
from dispatch.selfservice import accounts, codes
from dispatch.selfservice.accounts import SignedInResident
from dispatch.selfservice.schemas import (
    CatalogueCategoryOut,
    CatalogueItemOut,
    CatalogueOut,
    CodeIn,
    CodeSent,
    ConfigOut,
    MeOut,
    MePatch,
    PlaceOut,
    PlacesOut,
    ResidentTokenOut,
    SuggestionOut,
    SuggestOut,
    TokenIn,
)
from models import Area, Category, Item, PhoneKind, Resident

log = logging.getLogger(__name__)

PREFIX = "/api/v1/r"
TAGS = ["residents' app"]
# /config answers also while the app is switched off (it says so); everything else only while on.
public = APIRouter(prefix=PREFIX, tags=TAGS)
OFF = {404: {"description": "The residents' app is switched off ([residents_app] enabled = false)"}}
router = APIRouter(prefix=PREFIX, tags=TAGS, dependencies=[Depends(residents_app_on)], responses=OFF)
TOO_MANY = {429: {"description": "Too many codes for this number or address: wait Retry-After seconds"}}
# Everyday words of an item shown as its description in the catalogue.
DESCRIPTION_WORDS = 6


def code_rules(ctx: AppContext) -> codes.CodeRules:
    r = ctx.settings.residents_app
    return codes.CodeRules(
        ttl=timedelta(seconds=r.code_ttl_seconds),
        max_tries=r.max_tries,
        resend=timedelta(seconds=r.resend_seconds),
        daily_limit=r.daily_limit,
        address_hourly_limit=r.address_hourly_limit,
    )


def mobile(raw: str, region: str) -> Phone:
    """A mainland mobile number (what can receive the code), or 400 ``invalid_phone``."""
    try:
        phone = normalise_phone(raw, region)
    except InvalidPhone as exc:
        raise BadRequest(f"phone: {exc}", code="invalid_phone", message=f"手机号：{exc.message}") from None
    if phone.kind != PhoneKind.MOBILE or not phone.e164.startswith("+861"):
        raise BadRequest(
            "phone: give a mainland mobile number (the code is sent by SMS)",
            code="invalid_phone",
            message="手机号：请填写 11 位中国大陆手机号码（验证码以短信发送）",
        )
    return phone


def me_out(session: Session, who: SignedInResident) -> MeOut:
    resident = session.get_one(Resident, who.resident_id)
    community = session.get(Area, resident.community_id) if resident.community_id is not None else None
    return MeOut(
        id=resident.id,
        name="" if resident.name == UNNAMED else resident.name,
        phone=who.phone,
        address=resident.address,
        community=community.name if community is not None else None,
    )


# --- sign-in -----------------------------------------------------------------------------------


def _send_code_now(ctx: AppContext, message_id: int) -> None:
    """After the answer: hand the code to the SMS provider at once rather than at the next tick of
    the tracking loop (which sends it should this fail)."""
    try:
        with ctx.sessions() as session:
            send_now(session, [message_id], now=ctx.clock.now(), adapters=ctx.wired())
    except Exception:
        log.exception("could not send sign-in code SMS %s now; the outbox will", message_id)


@router.post("/auth/code", status_code=202, response_model=CodeSent, responses=TOO_MANY)
def send_code(
    body: CodeIn, ctx: Ctx, db: Db, address: ClientAddress, background: BackgroundTasks
) -> CodeSent:
    """Text a six-digit sign-in code to the number. The code is never in the answer: it arrives by
    SMS (the log adapter, in development, writes it to the server's log)."""
    phone = mobile(body.phone, ctx.settings.locale.default_region)
    rules = code_rules(ctx)
    issued = codes.issue_code(
        db,
        phone=phone.e164,
        address=address,
        now=ctx.clock.now(),
        rules=rules,
        key=codes.code_key(ctx.settings.auth.jwt_secret),
    )
    background.add_task(_send_code_now, ctx, issued.message_id)
    return CodeSent(expires_in=int(rules.ttl.total_seconds()), resend_after=int(rules.resend.total_seconds()))


def _refused(checked: codes.Checked) -> NotAuthenticated:
    if checked.verdict == codes.Verdict.WRONG:
        return NotAuthenticated(
            f"the code is wrong ({checked.tries_left} tries left)",
            code="code_invalid",
            message=f"验证码不正确，还可以再试 {checked.tries_left} 次",
        )
    if checked.verdict == codes.Verdict.EXHAUSTED:
        return NotAuthenticated(
            "too many wrong codes: this code no longer works; ask for a new one",
            code="code_exhausted",
            message="验证码错误次数过多，已失效，请重新获取验证码",
        )
    if checked.verdict == codes.Verdict.EXPIRED:
        return NotAuthenticated(
            "the code has expired; ask for a new one",
            code="code_expired",
            message="验证码已过期，请重新获取验证码",
        )
    return NotAuthenticated(
        "no code is waiting for this number (or it was used already); ask for one",
        code="code_invalid",
        message="验证码无效，请先获取验证码",
    )


@router.post(
    "/auth/token",
    response_model=ResidentTokenOut,
    responses={
        401: {"description": "code_invalid (tries left in the message), code_exhausted, code_expired"}
    },
)
def token(body: TokenIn, ctx: Ctx) -> ResidentTokenOut:
    """Sign in with the number and its code: a resident token (``Authorization: Bearer``) and the
    resident. The first sign-in of a number makes its resident record. A wrong code counts
    (``[residents_app] max_tries``), so the check commits whatever it finds."""
    phone = mobile(body.phone, ctx.settings.locale.default_region)
    if not codes.well_formed(body.code):
        raise BadRequest(
            f"code: the code is {codes.CODE_LENGTH} digits",
            code="invalid_code_format",
            message=f"验证码为 {codes.CODE_LENGTH} 位数字，请核对短信",
        )
    now = ctx.clock.now()
    key = codes.code_key(ctx.settings.auth.jwt_secret)
    with transaction(ctx.sessions) as session:
        checked = codes.check_code(
            session, phone=phone.e164, code=body.code, now=now, rules=code_rules(ctx), key=key
        )
        signed = accounts.sign_in(session, phone, now=now) if checked.verdict == codes.Verdict.OK else None
        me = me_out(session, signed) if signed is not None else None
    if signed is None or me is None:
        raise _refused(checked)
    minutes = ctx.settings.residents_app.token_minutes
    access = issue_resident_token(
        resident_id=signed.resident_id,
        phone_id=signed.phone_id,
        version=signed.token_version,
        secret=ctx.settings.auth.jwt_secret,
        now=datetime.now(UTC),  # token lifetimes follow the real clock, as the staff's do
        minutes=minutes,
    )
    return ResidentTokenOut(access_token=access, expires_in=minutes * 60, resident=me)


@router.post("/auth/signout", status_code=204, response_class=Response)
def sign_out(db: Db, resident: CurrentResident) -> Response:
    """Sign out everywhere: every token of this resident stops working."""
    accounts.sign_out(db, resident.resident_id)
    return Response(status_code=204)


# --- the resident's own record --------------------------------------------------------------------


@router.get("/me", response_model=MeOut)
def get_me(db: Db, resident: CurrentResident) -> MeOut:
    return me_out(db, resident)


@router.patch("/me", response_model=MeOut)
def edit_me(body: MePatch, db: Db, ctx: Ctx, resident: CurrentResident) -> MeOut:
    """The resident's name and registered address (located again, or not at all when the
    gazetteer does not know it)."""
    row = db.get_one(Resident, resident.resident_id)
    if body.name is not None:
        row.name = "".join(body.name.split())
    if body.address is not None:
        with ctx.read_sessions() as reader:
            located = ctx.caches.locator.locate_address(reader, body.address)
        row.address = body.address
        row.lat = located.lat if located else None
        row.lon = located.lon if located else None
        row.community_id = located.community_id if located else None
        row.grid_id = located.grid_id if located else None
    db.flush()
    return me_out(db, resident)


# --- public: what the app shows while a request is typed -----------------------------------------


@public.get("/config", response_model=ConfigOut)
def config(ctx: Ctx) -> ConfigOut:
    """What the app shows on every page (the hotline) and the limits it checks before sending."""
    r = ctx.settings.residents_app
    return ConfigOut(
        hotline=r.hotline,
        max_photos=r.max_photos,
        max_photo_mb=ctx.settings.uploads.max_photo_mb,
        enabled=r.enabled,
    )


@router.get("/catalogue", response_model=CatalogueOut)
def catalogue(db: Db) -> CatalogueOut:
    """The active categories with their active items, each with the safety notice to show before
    a request for it is sent (dangerous items: gas, locks, emergencies)."""
    stmt = select(Category).where(Category.active).options(selectinload(Category.items)).order_by(Category.id)
    return CatalogueOut(
        categories=[
            CatalogueCategoryOut(
                code=c.code,
                name=c.name_zh,
                items=[
                    CatalogueItemOut(
                        code=i.code,
                        name=i.name_zh,
                        description="、".join([k for k in i.keywords.split("|") if k][:DESCRIPTION_WORDS]),
                        safety_notice=i.notice,
                        home_visit=i.home_visit,
                    )
                    for i in c.items
                    if i.active
                ],
            )
            for c in db.scalars(stmt)
        ]
    )


@router.get("/suggest", response_model=SuggestOut)
def suggest(
    db: Db,
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=500, description="what the resident typed")],
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> SuggestOut:
    """Catalogue items for the text, best first, as the call centre's intake suggests them, with
    the item's name and safety notice."""
    found = ctx.caches.suggestions.suggester(db).suggest(q, limit=limit)
    rows = db.execute(
        select(Item.code, Item.notice, Category.name_zh)
        .join(Category, Category.id == Item.category_id)
        .where(Item.code.in_([s.item_code for s in found]))
    ).all()
    known = {code: (notice, category) for code, notice, category in rows}
    return SuggestOut(
        suggestions=[
            SuggestionOut(
                item_code=s.item_code,
                category_code=s.category_code,
                name=s.name,
                category_name=known[s.item_code][1],
                score=round(s.score, 4),
                safety_notice=known[s.item_code][0],
            )
            for s in found
            if s.item_code in known
        ]
    )


@router.get("/places", response_model=PlacesOut)
def places(
    db: Db,
    ctx: Ctx,
    q: Annotated[str, Query(min_length=1, max_length=100, description="the address as typed so far")],
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> PlacesOut:
    """Address completion from the district's gazetteer: roads, compounds and landmarks whose
    name begins with (then contains) the text, and a compound's buildings once its name and a
    number are typed. Public places only, never a resident's address."""
    gazetteer = ctx.caches.locator.gazetteer(db)
    return PlacesOut(
        places=[
            PlaceOut(
                text=c.text,
                kind=c.kind.value,
                community=gazetteer.area_name(c.community_id),
                lat=round(c.lat, 4),
                lon=round(c.lon, 4),
            )
            for c in gazetteer.complete(q, limit)
        ]
    )
