"""WebDAV's faults, answered and logged like Django's.

wsgidav turns any exception into a 500 and prints at most ten frames of it
into a message string; this layer (just inside wsgidav's ErrorPrinter) sees
the exception first:

- Redis not answering (portal.core.outage) becomes 503 with Retry-After;
- any other fault is logged once on ``portal.dav`` with its whole traceback
  (as ``exc_info``, so the JSON log format carries it too), then answered 500
  by the ErrorPrinter, whose own copies of the same traceback are dropped.
"""

from __future__ import annotations

import logging

from wsgidav.dav_error import HTTP_INTERNAL_ERROR, DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from portal.core.errors import ServiceUnavailable
from portal.core.outage import is_outage, log_outage

logger = logging.getLogger("portal.dav")


def _unavailable() -> DAVError:
    error = ServiceUnavailable()
    return DAVError(error.status, context_info=error.message, add_headers=list(error.headers.items()))


class DavFaults(BaseMiddleware):
    def is_disabled(self) -> bool:
        return False

    def __call__(self, environ, start_response):
        body = None
        try:
            body = self.next_app(environ, start_response)
            yield from body
        except DAVError as error:
            if error.value != HTTP_INTERNAL_ERROR:
                raise  # an answer (404, 423, 507...), not a fault
            raise self._fault(environ, error.src_exception or error) from None
        except Exception as error:
            raise self._fault(environ, error) from None
        finally:
            if body is not None and hasattr(body, "close"):
                body.close()

    @staticmethod
    def _fault(environ, error: BaseException) -> DAVError:
        method, path = environ.get("REQUEST_METHOD", "?"), environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        if is_outage(error):
            log_outage(error, method, path)
            return _unavailable()
        logger.error("WebDAV %s %s failed", method, path, exc_info=(type(error), error, error.__traceback__))
        return error if isinstance(error, DAVError) else DAVError(HTTP_INTERNAL_ERROR, src_exception=error)


class LoggedElsewhere(logging.Filter):
    """Drops wsgidav ErrorPrinter's copies of a 500's traceback: DavFaults logged it already."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR
