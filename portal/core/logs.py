"""Secrets out of every log line Coffer writes.

A share link's token and a signed storage URL's token are credentials in a
URL path, and a presigned S3 URL carries its signature in the query string:
whoever reads a log line must not be able to use them. ``redact`` keeps a
share token's 16-character selector (public: it names the link, so a line
can still be traced to it) and replaces every secret with ``[redacted]``.

Two hooks apply it: ``RedactingFilter`` on the handlers of Django's logging
(``LOGGING`` in settings: ``django.request``'s "Not Found: /s/<token>" and
any other record, and Celery's once it set up its own), and
``portal.gunicorn_log.RedactingLogger``, gunicorn's logger class (set in the
Procfile), for its access log and its error log.
"""

from __future__ import annotations

import logging
import re

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
