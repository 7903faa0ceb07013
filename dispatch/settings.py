"""One settings object: the TOML file named by ``SANSHE_CONFIG``, overridden by ``SANSHE_*`` variables.

Environment variables use ``__`` between a section and its key: ``SANSHE_TWILIO__AUTH_TOKEN``.
``SANSHE_DATABASE_URL`` is the one most deployments set. Unknown keys and wrong types stop
start-up with a message that names the key (see :func:`load_settings`).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dispatch.timelimits.hours import DAY_KEYS, check_hours

CONFIG_ENV = "SANSHE_CONFIG"
DEFAULT_SQLITE_URL = "sqlite:///var/sanshe.db"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Run the tracking loop (APScheduler) inside the web process.
    tracking_loop: bool = True
    # Start the telephony simulator (development and the demo only).
    simulator: bool = True
    # Mean seconds between simulated calls (the demo's two operators keep up with one per 3 min).
    simulator_interval_seconds: float = Field(180.0, gt=0)
    # How often a process checks whether the catalogue, gazetteer, calendar or providers changed
    # in the database (another process's edit shows up within this time); 0 = every request.
    cache_check_seconds: float = Field(2.0, ge=0, le=300)
    # Reverse proxies (addresses or networks, e.g. "10.0.0.5", "10.0.0.0/24") whose
    # X-Forwarded-For is believed: the client address (sign-in throttling, the sign-in records)
    # is then the last address in it that is not one of them. Empty: the socket peer, always.
    trusted_proxies: list[str] = []
    # "text": uvicorn's plain lines; "json": one JSON object a line (time, level, logger, message,
    # request_id; access lines add method, path, status, duration_ms) for a log collector.
    log_format: Literal["text", "json"] = "text"
    # Largest request body, in MB (a 413 above it; it is not read). A route may have its own
    # (dispatch.app.ROUTE_BODY_LIMITS).
    max_body_mb: float = Field(1.0, gt=0, le=1024)
    # Serve /docs, /redoc and /openapi.json: true, false, or "auto" (on in development only).
    docs: bool | Literal["auto"] = "auto"
    # This process's name in the lease table (the tracking loop, the telephony simulator run in
    # one process at a time). Empty: host name:port. Keep it across restarts (a restarted process
    # takes its leases back at once) and never give two running processes the same name.
    instance_name: str = Field("", max_length=80)
    # uvicorn worker processes of `sanshe serve` (PostgreSQL only: SQLite has one writer).
    workers: int = Field(1, ge=1, le=64)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _check_networks(value)


def _check_networks(value: list[str]) -> list[str]:
    import ipaddress

    for entry in value:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return [entry.strip() for entry in value]


class MetricsSettings(Section):
    # Addresses or networks allowed to read /metrics (Prometheus). The client address follows
    # [server] trusted_proxies, so a request relayed by the proxy is judged by its real origin.
    allow: list[str] = ["127.0.0.1/32", "::1"]
    # A bearer token that also opens /metrics from anywhere (Authorization: Bearer …); empty: the
    # address check only.
    token: str = ""

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _check_networks(value)


class AuthSettings(Section):
    # HMAC key for access tokens. Set a long random value in production.
    jwt_secret: str = Field("change-me-demo-only-secret-change-me", min_length=32)
    token_minutes: int = Field(720, ge=1, le=60 * 24 * 30)
    # Sign-in throttling (README "Security › Sign-ins"): failed sign-ins are counted over the
    # last failure_window_minutes. Past a limit, sign-ins are refused (429, Retry-After) for
    # lockout_base_seconds after the last failure, doubling with each further failure, at most
    # lockout_max_seconds.
    failure_window_minutes: int = Field(15, ge=1, le=24 * 60)
    # One account from one address (reset by a successful sign-in there).
    max_failures_per_account_address: int = Field(5, ge=1, le=1000)
    # One address, whatever the accounts tried.
    max_failures_per_address: int = Field(20, ge=1, le=10000)
    # One account from all addresses together: applies to addresses it has not signed in from
    # successfully within known_address_days, so a guessing campaign cannot lock the account's
    # owner out at their usual desk.
    max_failures_per_account: int = Field(50, ge=1, le=100000)
    known_address_days: int = Field(30, ge=0, le=365)
    lockout_base_seconds: float = Field(30.0, gt=0, le=3600)
    lockout_max_seconds: float = Field(900.0, gt=0, le=24 * 3600)
    # An event-stream ticket (POST /api/v1/events/ticket) opens one stream within this time.
    stream_ticket_seconds: int = Field(30, ge=1, le=300)
    # Open event streams re-check their user this often and close once the account is
    # deactivated or its sign-in has ended (password, role or provider change).
    stream_recheck_seconds: float = Field(60.0, gt=0, le=60)
    # How many passwords a process checks (argon2) at once; further sign-ins wait their turn
    # holding no thread and no database connection, so a flood of sign-ins leaves cores for
    # everyone else. 0: one fewer than the CPUs the process may use, at least 1.
    max_concurrent_password_checks: int = Field(0, ge=0, le=1024)
    # A throttled sign-in (429) is answered after this many seconds (at most its Retry-After): a
    # client hammering a locked account waits between tries instead of keeping the server busy.
    # The wait holds no thread and no database connection.
    throttled_answer_delay_seconds: float = Field(1.0, ge=0, le=10)

    def password_check_limit(self) -> int:
        """``max_concurrent_password_checks``, with 0 worked out from the CPUs."""
        if self.max_concurrent_password_checks:
            return self.max_concurrent_password_checks
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cpus = os.cpu_count() or 1
        return max(1, cpus - 1)

    @model_validator(mode="after")
    def _lockout_range(self) -> AuthSettings:
        if self.lockout_max_seconds < self.lockout_base_seconds:
            raise ValueError("lockout_max_seconds must be at least lockout_base_seconds")
        return self


class LocaleSettings(Section):
    # Region used to read phone numbers written without a country code.
    default_region: str = Field("CN", min_length=2, max_length=2)
    # Time zone of the call centre: working hours, working days and order numbers use it.
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class DispatchSettings(Section):
    # Offer new orders automatically to the best candidate.
    auto_dispatch: bool = True
    # After this many returns (declined or expired offers) an order waits for a supervisor.
    max_returns: int = Field(3, ge=1)
    # A check-in farther than this from the order address is flagged.
    checkin_far_meters: float = Field(300.0, gt=0)


class CallCentreSettings(Section):
    # When operators take calls, per weekday, in [locale] timezone; a missed call that came while
    # they were closed is due for a callback from their next opening. Empty: 24x7.
    hours: dict[str, list[tuple[str, str]]] = {day: [("08:00", "20:00")] for day in DAY_KEYS}
    # A missed, abandoned or voicemail call should be called back within this many minutes.
    callback_due_minutes: int = Field(30, ge=1, le=24 * 60)
    # A callback may close as "unreachable" only after this many attempts.
    unreachable_after_attempts: int = Field(3, ge=1, le=10)
    # Hosts the console may play voicemail recordings from, through the server (which adds
    # Twilio's credentials for api.twilio.com); add your PBX's recordings web server here.
    recording_hosts: list[str] = ["api.twilio.com"]
    recording_max_mb: int = Field(20, ge=1, le=200)

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        return check_hours(value) or {}


class TrackingSettings(Section):
    # Seconds between tracking-loop ticks.
    tick_seconds: float = Field(30.0, gt=0)
    # The tracking loop's lease: renewed every fifth of this; when its process dies, another
    # takes the loop over at most this plus a fifth of it later.
    lease_seconds: float = Field(10.0, ge=3, le=300)
    # Minutes before a deadline when a reminder is sent.
    remind_before_minutes: int = Field(30, ge=0)
    # Satisfaction counts ratings >= this many stars (4, or 3 to include 基本满意).
    satisfied_min_stars: int = Field(4, ge=1, le=5)
    # A provider whose star level stays below this, over at least suspend_min_ratings ratings,
    # is suspended automatically (its admin is notified). 0 turns automatic suspension off.
    suspend_below_stars: float = Field(2.5, ge=0, le=5)
    suspend_min_ratings: int = Field(10, ge=1)


class TargetsSettings(Section):
    # What the 督办 dashboard draws its rate charts against (shares, 0-1); the district's own
    # commitments to the civil-affairs bureau.
    closure_rate: float = Field(0.98, ge=0, le=1)
    on_time_rate: float = Field(0.95, ge=0, le=1)
    sign_on_time_rate: float = Field(0.90, ge=0, le=1)
    satisfaction_rate: float = Field(0.95, ge=0, le=1)
    answer_rate: float = Field(0.95, ge=0, le=1)
    # Minutes from receipt to a provider's acceptance that half the orders should beat (p50).
    minutes_to_accept: float = Field(8.0, gt=0)


class DashboardSettings(Section):
    # Background map tiles for the dashboard's district map, e.g. "/tiles/{z}/{x}/{y}.png"; the
    # console's CSP loads images from this server only, so serve or proxy tiles here. Empty: no
    # tiles, the communities on plain longitude/latitude axes (works offline).
    tile_url: str = Field("", max_length=300, pattern=r"^(|/[^\s]*\{z\}[^\s]*\{x\}[^\s]*\{y\}[^\s]*)$")
    # Attribution shown under the map when tiles are drawn (the tile provider's licence).
    tile_attribution: str = Field("", max_length=200)


class EvaluationSettings(Section):
    # The star evaluation (星级评价, GET /api/v1/stats/providers): a provider whose period star
    # level is below floor_stars for warning_after_periods periods in a row (this one included)
    # is marked 淘汰预警. Ratings of at most complaint_max_stars count as complaints (差评).
    floor_stars: float = Field(2.5, ge=1, le=5)
    warning_after_periods: int = Field(2, ge=1, le=12)
    complaint_max_stars: int = Field(2, ge=1, le=4)


class VisitsSettings(Section):
    # Care visit plans (定期探访): the tracking loop makes each visit (its order, offered to the
    # plan's visitor) this many days before the visit's period begins.
    lead_days: int = Field(3, ge=0, le=28)


class IngestSettings(Section):
    # An event posted to POST /api/v1/telephony/events whose handling keeps failing is tried this
    # many times (with backoff), then left "failed" for an admin.
    max_attempts: int = Field(5, ge=1, le=50)
    # The inbox worker is woken at once by each accepted event; it also looks this often for rows
    # left by a process that died or waiting for a retry.
    poll_seconds: float = Field(5.0, gt=0, le=300)
    # Processed events are deleted after this many days (failed ones stay until an admin acts).
    retention_days: int = Field(7, ge=1, le=3650)


class GeocodingSettings(Section):
    # Online geocoders tried, in order, when the offline gazetteer finds nothing: "nominatim", "baidu".
    online: list[Literal["nominatim", "baidu"]] = []
    # Text put before the address for online geocoders (the city and district).
    query_prefix: str = ""
    nominatim_domain: str = "nominatim.openstreetmap.org"
    nominatim_user_agent: str = "sanshe"
    baidu_api_key: str = ""
    timeout_seconds: float = Field(3.0, gt=0, le=30)

    @model_validator(mode="after")
    def _baidu_needs_key(self) -> GeocodingSettings:
        if "baidu" in self.online and not self.baidu_api_key:
            raise ValueError("baidu_api_key is required when online includes baidu")
        return self


_DIGIT_KEY = re.compile(r"^[1-9]$")
_CATEGORY_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
_ITEM_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")
_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


class TwilioSettings(Section):
    # Send SMS through Twilio (and, with the telephony adapters, take its webhooks).
    enabled: bool = False
    account_sid: str = ""
    auth_token: str = ""
    from_number: str = ""
    # The public https URL Twilio calls; webhook signatures are checked against it + path.
    public_base_url: str = ""
    # Seconds to wait for Twilio's REST API (SMS and outbound calls) before giving up for now.
    request_timeout_seconds: float = Field(10.0, gt=0, le=120)
    # Text-to-speech: <Say> language and voice of the IVR.
    language: str = Field("cmn-CN", min_length=2, max_length=20)
    voice: str = Field("Polly.Zhiyu", min_length=1, max_length=60)
    # First sentence every caller hears.
    greeting: str = Field("您好，这里是社区服务热线。", min_length=1, max_length=200)
    # Seconds the IVR waits for a key press before putting the caller through to an operator.
    menu_timeout_seconds: int = Field(8, ge=2, le=30)
    # Key 1-9 -> category code; 0 is always "an operator".
    menu: dict[str, str] = {
        "1": "ELDER",
        "2": "HOME",
        "3": "HEALTH",
        "4": "ERRAND",
        "5": "PROP",
        "6": "GOV",
        "7": "LEGAL",
        "8": "ASSIST",
    }
    # Key that goes straight to leaving a voicemail (1-9 or *; not one of the menu's keys).
    voicemail_digit: str = "9"
    # Callers are put in this Twilio queue (<Enqueue>) for the operators to take…
    operator_queue: str = Field("sanshe-operators", min_length=1, max_length=64)
    # …unless this number (E.164) is set: then it is dialled (<Dial>) instead.
    operator_number: str = ""
    # Seconds operator_number rings before the caller is offered a voicemail.
    ring_seconds: int = Field(30, ge=5, le=600)
    # When operators answer, per weekday in [locale] timezone; outside them callers leave a voicemail.
    # Empty means around the clock.
    operator_hours: dict[str, list[tuple[str, str]]] = {day: [("08:00", "20:00")] for day in DAY_KEYS}
    # Longest voicemail, in seconds.
    max_recording_seconds: int = Field(120, ge=10, le=3600)
    # Catalogue item of the order a voicemail becomes, per category chosen in the menu…
    voicemail_items: dict[str, str] = {
        "ELDER": "ELD-06",
        "HOME": "HOME-01",
        "HEALTH": "HLT-09",
        "ERRAND": "ERR-01",
        "PROP": "PRP-01",
        "GOV": "GOV-09",
        "LEGAL": "LEG-01",
        "ASSIST": "AST-07",
    }
    # …and when no category was chosen (or it has no item above).
    voicemail_default_item: str = "GOV-09"

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
            raise ValueError(f"not an http(s) URL without query: {value!r}")
        return value

    @field_validator("menu")
    @classmethod
    def _menu(cls, value: dict[str, str]) -> dict[str, str]:
        for digit, code in value.items():
            if not _DIGIT_KEY.match(digit):
                raise ValueError(f"menu keys are the digits 1-9, got {digit!r}")
            if not _CATEGORY_CODE.match(code):
                raise ValueError(f"menu {digit}: {code!r} is not a category code")
        return value

    @field_validator("voicemail_digit")
    @classmethod
    def _voicemail_digit(cls, value: str) -> str:
        if not re.match(r"^[1-9*]$", value):
            raise ValueError(f"use one key, 1-9 or *, got {value!r}")
        return value

    @field_validator("operator_number")
    @classmethod
    def _operator_number(cls, value: str) -> str:
        if value and not _E164.match(value):
            raise ValueError(f"not an E.164 number (+8657100000000): {value!r}")
        return value

    @field_validator("operator_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
        return check_hours(value) or {}

    @field_validator("voicemail_items")
    @classmethod
    def _voicemail_items(cls, value: dict[str, str]) -> dict[str, str]:
        for category, item in value.items():
            if not _CATEGORY_CODE.match(category) or not _ITEM_CODE.match(item):
                raise ValueError(f'{category} = {item!r}: use CATEGORY = "ITEM-CODE"')
        return value

    @field_validator("voicemail_default_item")
    @classmethod
    def _default_item(cls, value: str) -> str:
        if not _ITEM_CODE.match(value):
            raise ValueError(f"not an item code: {value!r}")
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> TwilioSettings:
        if self.enabled:
            missing = [k for k in ("account_sid", "auth_token", "from_number") if not getattr(self, k)]
            if missing:
                raise ValueError(f"enabled needs {', '.join(missing)}")
        if self.voicemail_digit in self.menu:
            raise ValueError(f"voicemail_digit {self.voicemail_digit} is also a menu key")
        return self


class AsteriskSettings(Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = ""
    secret: str = ""
    # Dialplan contexts where residents' calls enter (e.g. ["from-trunk"]); empty: every call.
    contexts: list[str] = []
    ping_interval_seconds: float = Field(20.0, gt=0, le=300)
    # Rating callbacks by AMI Originate: the channel to dial, with {number} (E.164) or {digits}
    # (E.164 without "+"), e.g. "PJSIP/{digits}@trunk". Empty: no callback calls through Asterisk.
    callback_channel: str = ""
    callback_context: str = "sanshe-rating"
    callback_exten: str = "s"
    callback_caller_id: str = ""
    # Click-to-call (an operator calls a resident back from the worklist): Originate rings the
    # operator's phone on operator_channel ({extension}), then dials dial_exten in dial_context;
    # dial_exten may use {number} (E.164), {digits} (no "+") or {national} (e.g. 013800138000).
    operator_channel: str = "PJSIP/{extension}"
    dial_context: str = "from-internal"
    dial_exten: str = "{national}"

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> AsteriskSettings:
        if self.enabled and not (self.username and self.secret):
            raise ValueError("asterisk.username and asterisk.secret are needed when enabled")
        if self.callback_channel and not any(k in self.callback_channel for k in ("{number}", "{digits}")):
            raise ValueError("asterisk.callback_channel must contain {number} or {digits}")
        if "{extension}" not in self.operator_channel:
            raise ValueError("asterisk.operator_channel must contain {extension}")
        if not any(k in self.dial_exten for k in ("{number}", "{digits}", "{national}")):
            raise ValueError("asterisk.dial_exten must contain {number}, {digits} or {national}")
        return self


class UploadsSettings(Section):
    # Where photos and signatures are stored (a relative path is taken from the working
    # directory), one directory per order; back it up with the database.
    dir: str = Field("var/uploads", min_length=1)
    # Largest photo accepted, in MB (a 413 above it). The phone compresses before sending.
    max_photo_mb: float = Field(5.0, gt=0, le=50)
    # Files no photo or signature row points at (left by a process killed mid-upload) are
    # removed once older than this, by the tracking loop every sweep_interval_minutes.
    orphan_grace_minutes: int = Field(60, ge=5, le=7 * 24 * 60)
    sweep_interval_minutes: int = Field(60, ge=1, le=7 * 24 * 60)


class ResidentsAppSettings(Section):
    # The residents' own channel: sign-in by SMS code and the residents' API under /api/v1/r
    # (README "Residents' app and SMS sign-in"). false: every /api/v1/r path but /config answers 404.
    enabled: bool = True
    # The hotline the app shows on every page (residents who would rather phone).
    hotline: str = Field("12345", min_length=1, max_length=30)
    # A sign-in code is valid this long, and this many wrong codes burn it.
    code_ttl_seconds: int = Field(300, ge=60, le=3600)
    max_tries: int = Field(5, ge=1, le=10)
    # One number gets at most one code every resend_seconds, and daily_limit codes in 24 hours.
    resend_seconds: int = Field(60, ge=10, le=3600)
    daily_limit: int = Field(10, ge=1, le=100)
    # One client address asks for at most this many codes an hour, whatever the numbers.
    address_hourly_limit: int = Field(30, ge=1, le=10000)
    # A resident stays signed in this long (7 days), unless they sign out.
    token_minutes: int = Field(7 * 24 * 60, ge=5, le=60 * 24 * 90)
    # Photos a resident may add to one request.
    max_photos: int = Field(3, ge=0, le=6)


class LiveSettings(Section):
    # Which bus carries the live event stream: "memory" (one process), "postgres" (LISTEN/NOTIFY,
    # across processes), or "auto": postgres on PostgreSQL, memory on SQLite.
    bus: Literal["auto", "memory", "postgres"] = "auto"
    # PostgreSQL bus: minutes a message is kept for clients resuming with Last-Event-ID.
    retention_minutes: float = Field(10.0, gt=0, le=24 * 60)


class Open311Settings(Section):
    # Open311 GeoReport v2 under /open311/v2/ (README "Open311 GeoReport v2"). Off by default: its
    # GETs are public and list every order (de-identified), so a deployment switches it on knowingly.
    enabled: bool = False
    # When set, a jurisdiction_id sent by a client must equal it (400 otherwise); empty: any is taken.
    jurisdiction_id: str = Field("", max_length=100)
    # Public coordinates are snapped to the centre of a grid cell this many metres wide.
    coordinate_precision_m: float = Field(500.0, ge=100, le=10000)
    # Requests a minute per API key unless the key has its own limit (429 beyond it).
    rate_per_minute: int = Field(60, ge=1, le=10000)
    # The most requests one GET requests answers with (the spec's 1000).
    max_requests_per_query: int = Field(1000, ge=1, le=10000)
    # GET requests without dates covers the last this many days; a date range may span no more.
    default_days: int = Field(90, ge=1, le=3660)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SANSHE_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    # SQLAlchemy URL. SQLite (embedded default) or postgresql+psycopg://user:pw@host/db.
    database_url: str = DEFAULT_SQLITE_URL
    # development | production: production refuses a weak JWT secret (the demo one, 32 × "a"…)
    # and `sanshe seed-demo`.
    environment: Literal["development", "production"] = "development"
    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    locale: LocaleSettings = LocaleSettings()
    dispatch: DispatchSettings = DispatchSettings()
    callcentre: CallCentreSettings = CallCentreSettings()
    tracking: TrackingSettings = TrackingSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    ingest: IngestSettings = IngestSettings()
    visits: VisitsSettings = VisitsSettings()
    targets: TargetsSettings = TargetsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    geocoding: GeocodingSettings = GeocodingSettings()
    twilio: TwilioSettings = TwilioSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    live: LiveSettings = LiveSettings()
    uploads: UploadsSettings = UploadsSettings()
    open311: Open311Settings = Open311Settings()
    metrics: MetricsSettings = MetricsSettings()
    residents_app: ResidentsAppSettings = ResidentsAppSettings()

    @property
    def docs_enabled(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (``[server] docs``)."""
        if isinstance(self.server.docs, bool):
            return self.server.docs
        return self.environment == "development"

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {value!r}") from exc
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")
        return value

    @model_validator(mode="after")
    def _bus_fits_the_database(self) -> Settings:
        if self.live.bus == "postgres" and make_url(self.database_url).get_backend_name() != "postgresql":
            raise ValueError("live.bus = postgres needs a PostgreSQL database_url")
        return self

    def live_bus(self) -> Literal["memory", "postgres"]:
        """The bus ``[live] bus`` chooses for this database."""
        if self.live.bus != "auto":
            return self.live.bus
        return "postgres" if make_url(self.database_url).get_backend_name() == "postgresql" else "memory"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_ENV)
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the key."""


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    path = os.environ.get(CONFIG_ENV)
    if path and not Path(path).is_file():
        raise ConfigError(f"{CONFIG_ENV}={path}: no such file")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigError(f"invalid configuration{where}:\n{_describe(exc)}") from None
    except ValueError as exc:  # a TOML syntax error
        raise ConfigError(f"cannot read {path}: {exc}") from None
    check_production(settings)
    return settings


DEMO_JWT_SECRET = AuthSettings().jwt_secret


def weak_secret(secret: str) -> str | None:
    """Why ``secret`` cannot sign production tokens, or None. Catches the demo secret and the
    obvious stand-ins (32 × "a", a short pattern repeated), not every guessable one: generate it
    (``python -c "import secrets; print(secrets.token_urlsafe(48))"``)."""
    if secret == DEMO_JWT_SECRET or "change-me" in secret.lower():
        return "it is the demo secret"
    if len(secret) < 32:
        return "it is shorter than 32 characters"
    if len(set(secret)) < 8:
        return "it has fewer than 8 different characters"
    if secret in (secret + secret)[1:-1]:  # a shorter unit repeated ("abcabc…")
        return "it repeats a shorter pattern"
    return None


def check_production(settings: Settings) -> None:
    """What production refuses to start with: a weak ``auth.jwt_secret``."""
    if settings.environment != "production":
        return
    why = weak_secret(settings.auth.jwt_secret)
    if why:
        raise ConfigError(f"auth.jwt_secret: {why}; set a long random secret of your own in production")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
