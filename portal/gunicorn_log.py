"""gunicorn's logger class for Coffer (``logger_class`` in gunicorn.conf.py):
tokens out of the access and error logs, and the same line format as
Django's and Celery's (``portal.core.logs.formatter``: a UTC timestamp on
every line, or JSON lines with ``PORTAL_LOG_FORMAT=json``)."""

from __future__ import annotations

from gunicorn.glogging import Logger

from portal.core.logs import RedactingFilter, formatter, redact, redact_handlers


class RedactingLogger(Logger):
    """Every access-log atom (request line, path, query, headers such as
    Referer) and every error-log line goes through ``redact``."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.error_log.addFilter(RedactingFilter())
        for log in (self.error_log, self.access_log):
            redact_handlers(log)
            for handler in log.handlers:
                handler.setFormatter(formatter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        return {key: redact(value) for key, value in super().atoms(resp, req, environ, request_time).items()}
