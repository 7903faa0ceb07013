"""No secret in a log line.

A request line in uvicorn's access log carries the URL's query, and a query may carry a secret
(a stream ticket; an old console's ``access_token``; an Open311 ``api_key``; whatever a client
puts there). Every log record is redacted before any handler sees it: the values of query-style
``name=value`` pairs whose name is a secret's (:data:`SECRET_NAMES`, also when the name is
percent-encoded), ``Bearer …`` credentials, JSON-style ``"password": "…"`` members and anything
shaped like a JWT become ``***``.

Two ways in, both installed by :func:`install_log_redaction`, which ``create_app`` calls (so it
holds under any server) and ``sanshe serve`` relies on:

- a log-record factory, so records of every logger in the process (ours, uvicorn's, gunicorn's,
  httpx's) are redacted when they are made, whatever handlers the server configured;
- :class:`RedactSecrets`, a ``logging.Filter`` on the servers' access and error loggers, and on
  the handlers of ``sanshe serve``'s logging configuration (:func:`serve_logging_config`), for
  records made before the factory was installed or handed in from elsewhere.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

MASK = "***"
# Query parameter (and form field) names whose values are secrets, compared lower-case.
SECRET_NAMES = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "ticket",
        "api_key",
        "apikey",
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "auth_token",
        "code",
    }
)
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "gunicorn.access", "gunicorn.error")
LOG_ADAPTERS = "dispatch.outbox.adapters"

_PAIR = re.compile(r"(?P<lead>^|[?&;\s\"'(,\[{])(?P<name>[A-Za-z0-9_.%+-]+)=(?P<value>[^&\s\"'#;,)\]}]*)")
_JSON_MEMBER = re.compile(r"(?P<name>\"[A-Za-z0-9_]+\"\s*:\s*)\"(?P<value>(?:[^\"\\]|\\.)*)\"")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def _secret(name: str) -> bool:
    return unquote_plus(name).strip().lower() in SECRET_NAMES


def _pair(m: re.Match[str]) -> str:
    if m["value"] and _secret(m["name"]):
        return f"{m['lead']}{m['name']}={MASK}"
    return m[0]


def _member(m: re.Match[str]) -> str:
    name = m["name"].split('"')[1]
    return f'{m["name"]}"{MASK}"' if m["value"] and _secret(name) else m[0]


def redact(text: str) -> str:
    """``text`` with every secret it carries masked."""
    if "=" in text:
        text = _PAIR.sub(_pair, text)
    if '"' in text:
        text = _JSON_MEMBER.sub(_member, text)
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(lambda m: f"{m[1]} {MASK}", text)
    if "eyJ" in text:
        text = _JWT.sub(MASK, text)
    return text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float | bool | bytes):
        return value
    # An object logged by its str() (a URL, a request): replaced only if it carried a secret,
    # so "%d"-style placeholders keep their numbers.
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place: its message, its arguments and its traceback."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, Mapping):
        record.args = {k: _redact_arg(v) for k, v in args.items()}
    if record.exc_info and not record.exc_text:
        # Formatters use exc_text when it is set: the traceback is written redacted too.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


class RedactSecrets(logging.Filter):
    """A ``logging.Filter`` that redacts (never drops) each record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install_log_redaction() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "sanshe_redacts", False):

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            redact_record(record)
            return record

        factory.sanshe_redacts = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def serve_logging_config(log_format: str = "text") -> dict[str, Any]:
    """``sanshe serve``'s logging, :class:`RedactSecrets` on each handler. ``"text"``: uvicorn's
    own configuration. ``"json"``: every logger (ours, uvicorn's; the app writes the access lines)
    through one handler writing ``dispatch.ops.logs.JsonFormatter`` lines with the request id."""
    from uvicorn.config import LOGGING_CONFIG

    if log_format == "json":
        return {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "redact_secrets": {"()": f"{__name__}.RedactSecrets"},
                "request_id": {"()": "dispatch.ops.logs.RequestIdFilter"},
            },
            "formatters": {"json": {"()": "dispatch.ops.logs.JsonFormatter"}},
            "handlers": {
                "json": {
                    "class": "logging.StreamHandler",
                    "formatter": "json",
                    "stream": "ext://sys.stderr",
                    "filters": ["redact_secrets", "request_id"],
                }
            },
            "loggers": {
                "uvicorn": {"level": "INFO"},
                "uvicorn.error": {"level": "INFO"},
                "uvicorn.access": {"level": "INFO"},
            },
            "root": {"handlers": ["json"], "level": "INFO"},
        }
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_secrets"] = {"()": f"{__name__}.RedactSecrets"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_secrets")
    # The log adapters (no SMS provider or PBX configured) deliver to the log: their lines are
    # shown, a demo resident's sign-in code among them (``outbox.adapters.LogSms``).
    config["loggers"][LOG_ADAPTERS] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
