"""Secrets out of every log line Coffer writes.

A share link's token and a signed storage URL's token are credentials in a
URL path, and a presigned S3 URL carries its signature in the query string:
whoever reads a log line must not be able to use them. ``redact`` keeps a
share token's 16-character selector (public: it names the link, so a line
can still be traced to it) and replaces every secret with ``[redacted]``.

Two hooks apply it: ``RedactingFilter`` on the handlers of Django's logging
(``LOGGING`` in settings: ``django.request``'s "Not Found: /s/<token>" and
any other record; Celery's worker and beat use the same ``LOGGING``), and
``portal.gunicorn_log.RedactingLogger``, gunicorn's logger class (set in
``gunicorn.conf.py``), for its access log and its error log.

One line format for all of them (``formatter()``): a UTC timestamp to the
millisecond, the level, the process id and the logger's name, then the
message and any traceback; or, with ``PORTAL_LOG_FORMAT=json``, one JSON
object per line (``time``, ``level``, ``process``, ``logger``, ``message``
and ``traceback`` when there is one).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time

REDACTED = "[redacted]"

_SLASH = r"(?:/|%2[Ff])"  # also URL-encoded, as in a login page's ?next=%2Fs%2F<token>
_RULES = [
    # /s/<16 hex selector><secret>: the selector may stay, the secret may not.
    (re.compile(rf"({_SLASH}s{_SLASH})([0-9a-f]{{16}})?[A-Za-z0-9_-]+"),
     lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}"),
    # The local store's signed URLs: /storage/o|part|put/<token>.
    (re.compile(rf"({_SLASH}storage{_SLASH}(?:o|part|put){_SLASH})[^\s?&#\"'/%]+"),
     lambda m: f"{m.group(1)}{REDACTED}"),
    # Signatures, credentials and tokens in query strings (presigned S3 URLs and the like).
    (re.compile(r"([?&;](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId"
                r"|token|access_token|signature|sig|code|password)=)[^&\s\"'#]*", re.IGNORECASE),
     lambda m: f"{m.group(1)}{REDACTED}"),
]


def redact(text: str) -> str:
    """``text`` with every token and signature Coffer knows of replaced."""
    if not isinstance(text, str):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with ``redact``; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own problem to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_handlers(logger: logging.Logger) -> None:
    """Put the filter on every handler of ``logger`` (for loggers set up outside LOGGING)."""
    for handler in logger.handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())


LOG_FORMATS = ("text", "json")


def log_format() -> str:
    """``PORTAL_LOG_FORMAT``, read from the environment (gunicorn's master has no Django settings)."""
    chosen = os.environ.get("PORTAL_LOG_FORMAT", "").strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        raise ValueError(f"PORTAL_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {chosen!r}")
    return chosen


class TextFormatter(logging.Formatter):
    """``2026-12-03T09:16:38.123Z ERROR 4242 django.request: message`` and the traceback below it."""

    converter = time.gmtime

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_timestamp(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback is a field of it, never lines of its own."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": utc_timestamp(record), "level": record.levelname, "process": record.process,
                "logger": record.name, "message": record.getMessage()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def utc_timestamp(record: logging.LogRecord) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"


def formatter(kind: str | None = None) -> logging.Formatter:
    """The formatter of every Coffer log line: ``kind`` ("text" or "json"; the
    settings pass ``LOG_FORMAT``), else what ``PORTAL_LOG_FORMAT`` asks."""
    return JsonFormatter() if (kind or log_format()) == "json" else TextFormatter()
