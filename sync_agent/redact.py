"""Presigned URLs are credentials: an S3 one carries its access key id,
signature and session token in the query string, the portal's own store its
token in the path (/storage/o|part|put/<token>). Whoever reads a line the
agent wrote (a log, a failure report sent to the portal) must not be able to
use one. requests puts the URL into its exceptions' messages, so every
problem text and every log line goes through ``redact``."""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_RULES = [
    (re.compile(r"(/storage/(?:o|part|put)/)[^\s?&#\"'/)]+"), rf"\g<1>{REDACTED}"),
    # Any query string: a presigned URL's is all credential (and requests shows only the path and query).
    (re.compile(r"\?[^\s\"'<>)]+"), f"?{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with ``redact``. A traceback
    becomes part of the message, since some handlers (rich's) print
    ``exc_info`` themselves, past any filter."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's own problem to report
            return True
        if record.exc_info:
            message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = redact(message), None
        return True
