"""A request that needs Redis or PostgreSQL while it is down answers 503, never 500.

Redis holds the guessing limits of share-link passwords and codes, the
password-reset counters, the cache and the task queue; PostgreSQL holds
everything else. When one does not answer, the code that needed it raises (the
limiters fail closed: nothing they guard runs; a transaction cut off is rolled
back) and this module turns the error into a clear answer in one place:

- ``OutageMiddleware.process_exception`` for Django views;
- ``portal.api.errors.exception_handler`` for the API (the same JSON shape as
  every error, code ``unavailable``);
- ``portal.web.views.server_error`` for an outage raised outside a view (in a
  middleware: the session or the signed-in user read from the database);
- ``portal.dav.faults`` for WebDAV.

Every answer carries ``Retry-After``; nothing is retried or skipped here, and
once the service answers again the next request works: the Redis client
reconnects, and Django checks a kept database connection before reusing it
(``CONN_HEALTH_CHECKS``) and opens a new one.

A database error is an outage only when the server is gone, not when a query
failed: the connection was refused, timed out or cut (no SQLSTATE, or class 08),
the server is shutting down, crashed or still starting (57P01-57P03), or it has
no connection left (53300). A deadlock, a lock or statement timeout, a full
disk or a constraint stays the error it is (500 if nothing handled it), and
SQLite, which has no server to lose, never has an outage.
"""

from __future__ import annotations

import logging
import traceback

import kombu.exceptions
import psycopg
import redis.exceptions
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from portal.core.errors import ServiceUnavailable

logger = logging.getLogger("portal.outage")

# Connection refused, reset or timed out, a replica that became read-only,
# and the broker's own wrapper of the same (kombu).
OUTAGES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError,
           kombu.exceptions.OperationalError)
_JSON_PATHS = ("/api/", "/scim/", "/wopi/")


# The SQLSTATEs of a PostgreSQL server that is going, gone or not yet back (besides class 08).
_DATABASE_GONE = {"57P01", "57P02", "57P03", "53300"}


def is_database_outage(exc: BaseException) -> bool:
    """PostgreSQL's driver error (Django raises its own ``from`` it) for a server that is not answering."""
    if isinstance(exc, psycopg.InterfaceError):  # the connection was closed under us
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in _DATABASE_GONE


def outage_of(exc: BaseException | None) -> str | None:
    """The service that did not answer ("Redis" or "PostgreSQL") when ``exc`` (or what it was raised
    ``from``) means one did not, else None. Not ``__context__``: an error raised while handling an outage (a fallback's own)
    is not one."""
    for _ in range(5):
        if exc is None:
            return None
        if isinstance(exc, OUTAGES):
            return "Redis"
        if is_database_outage(exc):
            return "PostgreSQL"
        exc = exc.__cause__
    return None


def is_outage(exc: BaseException | None) -> bool:
    return outage_of(exc) is not None


def where(exc: BaseException) -> str:
    """The innermost line of Coffer's own code the error passed through, for the log."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if "/portal/" in frame.filename]
    if not frames:
        return "?"
    frame = frames[-1]
    return f"{frame.filename.rsplit('/portal/', 1)[-1]}:{frame.lineno}"


def log_outage(exc: BaseException, method: str, path: str) -> None:
    """One line per refused request (an outage is not a bug: no traceback)."""
    logger.error("%s is not answering (%s: %s, at portal/%s); %s %s answered 503", outage_of(exc) or "A service",
                 type(exc).__name__, str(exc).strip().replace("\n", " "), where(exc), method, path)


def wants_json(request) -> bool:
    return request.path.startswith(_JSON_PATHS) or "application/json" in request.headers.get("Accept", "")


def unavailable_response(request, error: ServiceUnavailable | None = None) -> HttpResponse:
    """503 with Retry-After: the API's JSON error, or the portal's page."""
    error = error or ServiceUnavailable()
    if wants_json(request):
        return JsonResponse(error.as_dict(), status=error.status, headers=error.headers)
    try:
        response = render(request, "503.html", {"message": error.message}, status=error.status)
    except Exception:  # the page of last resort: its own failure must not turn the 503 into a 500
        logger.exception("the 503 page could not be rendered")
        response = HttpResponse(error.message, status=error.status, content_type="text/plain; charset=utf-8")
    for name, value in error.headers.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


class OutageMiddleware:
    """Views that raise because Redis or PostgreSQL is down answer 503 instead of 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_outage(exception):
            return None
        log_outage(exception, request.method, request.path)
        return unavailable_response(request)
