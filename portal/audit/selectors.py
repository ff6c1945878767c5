"""Reads of the audit log for the admin panel and its exports.

One meaning for every filter parameter: the admin's list filters and the
exports (streamed or written by Celery from the saved parameters) both go
through ``events_filtered``, so an export holds exactly the rows listed.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext

from portal.audit.models import AuditEvent
from portal.core.errors import InvalidInput

RANGE_FROM, RANGE_TO, ADDRESS, SEARCH = "created_from", "created_to", "ip", "q"
SEARCH_FIELDS = ("target_label", "actor_label", "ip")
# Django's own list filters, kept as they are: (GET parameter, lookup).
# "action" is the sidebar's "By action" (a field without choices lists its values under its own name).
EXACT_FILTERS = {"id__lte": "id__lte", "action": "action", "action__exact": "action", "outcome__exact": "outcome", "space__id__exact": "space_id",
                 "actor__id__exact": "actor_id"}
# The "(None)" choice of the space and actor filters: events of no space, of the system.
ISNULL_FILTERS = {"space__isnull": "space__isnull", "actor__isnull": "actor__isnull"}
# Paging, ordering and the admin's own flags: not filters.
IGNORED = {"o", "p", "all", "e", "_changelist_filters", "_to_field", "_popup"}


def _instant(value: str, *, end: bool) -> datetime:
    """A date (the whole day: its start, or the next day's start for ``end``)
    or an ISO date and time, in the current time zone when naive."""
    value = value.strip()
    day = parse_date(value) if len(value) <= 10 else None
    if day is not None:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
    else:
        try:
            moment = parse_datetime(value)
        except ValueError:
            moment = None
        if moment is None:
            raise InvalidInput(gettext("%(value)r is not a date (YYYY-MM-DD) or an ISO date and time.") % {"value": value},
                               code="invalid_date")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def filter_range(events: QuerySet, created_from: str | None, created_to: str | None) -> QuerySet:
    """From the start of ``created_from`` up to the end of ``created_to`` (dates inclusive)."""
    if created_from:
        events = events.filter(created_at__gte=_instant(created_from, end=False))
    if created_to:
        events = events.filter(created_at__lt=_instant(created_to, end=True))
    return events


def filter_address(events: QuerySet, address: str | None) -> QuerySet:
    if not address:
        return events
    try:
        address = str(ipaddress.ip_address(address.strip()))
    except ValueError:
        raise InvalidInput(gettext("%(address)r is not an IP address.") % {"address": address}, code="invalid_ip") from None
    return events.filter(ip=address)


def search(events: QuerySet, query: str | None) -> QuerySet:
    """Every word must match one of the labels or the address (as the admin's search)."""
    for word in (query or "").split():
        match = Q()
        for field in SEARCH_FIELDS:
            match |= Q(**{f"{field}__icontains": word})
        events = events.filter(match)
    return events


def _one(value):
    return value[-1] if isinstance(value, list | tuple) else value


def events_filtered(params) -> QuerySet:
    """The events the admin list shows for these GET parameters (a QueryDict
    or a plain dict), newest first. Unknown parameters are refused rather than
    silently ignored: an export must never hold more than was asked for."""
    params = {key: _one(params.getlist(key) if hasattr(params, "getlist") else params[key]) for key in params}
    unknown = set(params) - set(EXACT_FILTERS) - set(ISNULL_FILTERS) - IGNORED - {RANGE_FROM, RANGE_TO, ADDRESS, SEARCH}
    if unknown:
        raise InvalidInput(gettext("Unknown filter(s): %(join)s.") % {"join": ', '.join(sorted(unknown))}, code="unknown_filters")
    events = AuditEvent.objects.all()
    for param, lookup in EXACT_FILTERS.items():
        value = params.get(param)
        if value in (None, ""):
            continue
        if lookup.endswith(("_id", "id__lte")) and not (str(value).isascii() and str(value).isdigit()):
            raise InvalidInput(gettext("%(param)s must be a number.") % {"param": param}, code="invalid_filter")
        events = events.filter(**{lookup: value})
    for param, lookup in ISNULL_FILTERS.items():
        value = params.get(param)
        if value not in (None, ""):
            if value not in ("True", "False", "1", "0"):
                raise InvalidInput(gettext("%(param)s is True or False.") % {"param": param}, code="invalid_filter")
            events = events.filter(**{lookup: value in ("True", "1")})
    events = filter_range(events, params.get(RANGE_FROM), params.get(RANGE_TO))
    events = filter_address(events, params.get(ADDRESS))
    return search(events, params.get(SEARCH)).order_by("-id")


def export_params(params) -> dict[str, str]:
    """The parameters worth keeping with an export (no paging or ordering),
    bounded by the newest event now (``id__lte``): the export holds the same
    rows however late it runs, and never its own ``audit.exported`` event."""
    params = {key: _one(params.getlist(key) if hasattr(params, "getlist") else params[key]) for key in params}
    kept = {key: value for key, value in params.items() if key not in IGNORED and value not in (None, "")}
    if "id__lte" not in kept:
        newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
        kept["id__lte"] = str(newest or 0)
    return kept
