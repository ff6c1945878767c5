"""The user's time zone: the zones the Account page offers, and the
middleware that shows every page in the signed-in user's zone."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.utils import timezone, translation

# The zones the Account page lists first; any IANA name is accepted.
COMMON_ZONES = (
    "UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul",
    "Asia/Kolkata", "Asia/Dubai", "Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Moscow",
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo",
    "Australia/Sydney", "Pacific/Auckland",
)


def zone_choices(current: str) -> list[str]:
    """The common zones, the deployment's and the user's own, each once."""
    zones = list(dict.fromkeys((settings.TIME_ZONE, *COMMON_ZONES)))
    if current and current not in zones:
        zones.append(current)
    return zones


class TimeZoneMiddleware:
    """Dates on every page (and in messages) read in the signed-in user's
    zone; visitors and users who chose none see the deployment's. The
    user's language (Account page), when they chose one, wins over the
    browser's that LocaleMiddleware picked."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        chosen = getattr(getattr(request, "user", None), "language", "")
        if chosen:
            translation.activate(chosen)
            request.LANGUAGE_CODE = translation.get_language()
        zone = getattr(getattr(request, "user", None), "time_zone", "")
        if zone:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
