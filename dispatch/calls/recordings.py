"""Fetching a voicemail recording for the console to play.

Recording URLs arrive from Twilio's signed webhooks, the PBX adapter or the ingest endpoint, so a
URL is fetched only from a host the deployment allows (``[callcentre] recording_hosts``): the
server never becomes a way to reach other hosts. Twilio's ``api.twilio.com`` recordings are
fetched with the account's credentials (Twilio protects them by default), as MP3.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from dispatch.errors import AppError, Conflict
from dispatch.settings import Settings

TWILIO_HOST = "api.twilio.com"


def fetch(url: str, settings: Settings) -> tuple[bytes, str]:
    """The recording's bytes and media type; a 409 for a host not allowed, a 502 when it fails."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = {h.lower() for h in settings.callcentre.recording_hosts}
    if parts.scheme not in ("http", "https") or host not in allowed:
        raise Conflict(
            f"recordings from {host or url!r} are not served here: add the host to [callcentre] recording_hosts",
            code="recording_host_not_allowed",
            message="这条录音所在的服务器未获允许，请点“打开录音”收听，或请管理员把它加入 recording_hosts",
        )
    auth = None
    if host == TWILIO_HOST:
        twilio = settings.twilio
        if twilio.account_sid and twilio.auth_token:
            auth = (twilio.account_sid, twilio.auth_token)
        if not parts.path.endswith((".mp3", ".wav")):
            url += ".mp3"  # Twilio serves WAV by default; MP3 is a tenth of the size
    limit = settings.callcentre.recording_max_mb * 1024 * 1024
    try:
        with (
            httpx.Client(timeout=10.0, follow_redirects=False) as client,
            client.stream("GET", url, auth=auth) as r,
        ):
            if r.status_code != 200:
                raise AppError(
                    f"the recorder answered HTTP {r.status_code}",
                    code="recording_unavailable",
                    status_code=502,
                    message=f"录音服务器拒绝了请求（HTTP {r.status_code}），请稍后再试或点“打开录音”",
                )
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise AppError(
                        "the recording is too large to play here",
                        code="recording_unavailable",
                        status_code=502,
                        message="录音文件太大，无法在此播放，请点“打开录音”",
                    )
                chunks.append(chunk)
            media_type = r.headers.get("content-type", "audio/mpeg").split(";")[0]
    except httpx.HTTPError as exc:
        raise AppError(
            f"the recording could not be fetched: {exc}",
            code="recording_unavailable",
            status_code=502,
            message="暂时取不到录音，请稍后再试或点“打开录音”",
        ) from None
    if not media_type.startswith("audio/"):
        raise AppError(
            f"the recorder sent {media_type}, not audio",
            code="recording_unavailable",
            status_code=502,
            message="录音服务器返回的不是音频，请点“打开录音”",
        )
    return b"".join(chunks), media_type
