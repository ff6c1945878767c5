"""``/healthz``: does every service the portal needs answer? ``/healthz/live``: does this portal process?

A load balancer in front of several portals asks ``/healthz/live``: the services are shared, so a
Redis or PostgreSQL outage would take every portal out of its pool at once, and clients would get the
balancer's own error page instead of the portal's 503 ``unavailable`` with Retry-After (portal.core.outage).
Monitoring asks ``/healthz``, which names the service that is not answering."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.core.errors import PortalError

logger = logging.getLogger(__name__)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _storage() -> None:
    from portal.storage import get_store

    get_store().check()


def _broker() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=3)


def _cache() -> None:
    """The cache holds the guessing limits: without it share-link passwords answer 503."""
    from django.core.cache import cache

    cache.set("healthz", "ok", 30)
    if cache.get("healthz") != "ok":
        raise RuntimeError("the cache did not keep a value")


CHECKS = {"database": _database, "storage": _storage, "broker": _broker, "cache": _cache}


@never_cache
@require_GET
def healthz(request):
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except PortalError as exc:
            results[name] = exc.message
        except Exception as exc:  # a health check reports any failure, it never raises
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = f"not answering ({exc.__class__.__name__})"
    failing = [name for name, state in results.items() if state != "ok"]
    body = {"status": "ok" if not failing else "failing", "checks": results}
    if failing:
        body["message"] = f"Not answering: {', '.join(failing)}."
    return JsonResponse(body, status=503 if failing else 200)


@never_cache
@require_GET
def healthz_live(request):
    """200 whenever this process serves requests; it asks no service (see the module's docstring)."""
    return JsonResponse({"status": "ok"})
