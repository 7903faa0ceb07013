"""Log lines a collector can read: JSON, each with the id of the request it was written for.

The request id is the client's ``X-Request-ID`` when it is sane (at most 64 of
``[A-Za-z0-9._-]``: it ends up in log lines and response headers, so nothing else is let in),
else a new one. It lives in a context variable for the request's duration, so every record made
while handling it (in the event loop or in a worker thread, which inherits the context) carries
it, whatever the logger.

:class:`JsonFormatter` redacts each field it writes (``dispatch.redact``): the record factory
and filter redact a record's message and arguments, and the formatter also covers the fields
that arrive as ``extra`` (an access line's path and its query).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from dispatch.redact import redact

REQUEST_ID: ContextVar[str | None] = ContextVar("sanshe_request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The fields an access line adds to the JSON object (``extra=`` of the log call).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "client")


def request_id_from(header: str | None) -> str:
    """The client's id if it is sane, else a new one."""
    if header is not None and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return REQUEST_ID.get()


class RequestIdFilter(logging.Filter):
    """Stamps ``record.request_id`` (None outside a request); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, the
    access fields when present, and the traceback as ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": request_id,
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)
