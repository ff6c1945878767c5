"""The admin console's home (/manage/): charts of storage, traffic, links,
devices and failed sign-ins, drawn on the server as inline SVG
(portal/adminpanel/charts.py), figures from portal/adminpanel/stats.py.
Days are the viewer's (their time zone); ``?days=`` picks the period."""

from __future__ import annotations

from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from portal.adminpanel import charts, stats
from portal.core.access import is_admin
from portal.core.errors import InvalidInput
from portal.web.common import portal_page

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30


def _days(raw: str | None) -> int:
    if raw in (None, ""):
        return DEFAULT_DAYS
    if raw.isascii() and raw.isdigit() and int(raw) in PERIODS:
        return int(raw)
    raise InvalidInput(_("Choose a period of 7, 30 or 90 days."), code="invalid_days")


def _storage_per_space() -> charts.Chart:
    spaces = stats.storage_per_space()
    items = [{"label": space["name"], "value": space["used_bytes"], "total": space["quota_bytes"],
              "text": _("%(used)s of %(quota)s") % {"used": filesizeformat(space["used_bytes"]),
                                                    "quota": filesizeformat(space["quota_bytes"])},
              "cells": [space["name"], filesizeformat(space["used_bytes"]), filesizeformat(space["quota_bytes"])]}
             for space in spaces]
    return charts.hbars(key="storage-spaces", title=_("Storage per space"),
                        desc=_("The %(count)s spaces that use the most; each bar is the space's quota, filled as "
                               "far as it is used.") % {"count": len(items)},
                        items=items, headers=[_("Space"), _("Used"), _("Quota")], empty=_("No spaces yet."))


def _storage_over_time(now, tz, days: int, total: dict) -> charts.Chart:
    points = stats.storage_over_time(now=now, tz=tz, days=days, total=total)
    return charts.line(key="storage-time", title=_("Storage over time"),
                       desc=_("Bytes used by all spaces at the end of each day; now %(used)s of %(quota)s in "
                              "%(spaces)s spaces.") % {"used": filesizeformat(total["used"]),
                                                       "quota": filesizeformat(total["quota"]),
                                                       "spaces": total["spaces"]},
                       points=points, fmt=filesizeformat, ceiling=charts.nice_bytes, headers=[_("Day"), _("Used")],
                       empty=_("No history yet."))


def _traffic(now, tz, days: int) -> charts.Chart:
    rows = stats.traffic_per_day(now=now, tz=tz, days=days)
    ups, downs = [r["uploads"] for r in rows], [r["downloads"] for r in rows]
    return charts.day_columns(
        key="traffic", title=_("Uploads and downloads per day"),
        desc=_("%(uploads)s uploads and %(downloads)s downloads (files, zips and through links) in the last "
               "%(days)s days.") % {"uploads": sum(ups), "downloads": sum(downs), "days": days},
        days=[r["day"] for r in rows], headers=[_("Day"), _("Uploads"), _("Downloads")],
        series=[{"name": _("Uploads"), "css": "series-a", "values": ups},
                {"name": _("Downloads"), "css": "series-b", "values": downs}])


def _failed_signins(now, tz, days: int) -> charts.Chart:
    rows = stats.failed_signins_per_day(now=now, tz=tz, days=days)
    failed, throttled = [r["failed"] for r in rows], [r["throttled"] for r in rows]
    return charts.day_columns(
        key="signins", title=_("Failed sign-ins per day"),
        desc=_("%(failed)s failed and %(throttled)s throttled sign-ins in the last %(days)s days.") % {
            "failed": sum(failed), "throttled": sum(throttled), "days": days},
        days=[r["day"] for r in rows], headers=[_("Day"), _("Failed"), _("Throttled")],
        series=[{"name": _("Failed"), "css": "series-warn", "values": failed},
                {"name": _("Throttled"), "css": "series-danger", "values": throttled}])


def _links(now) -> charts.Chart:
    states = stats.links_by_state(now=now)
    items = [{"label": str(s["label"]), "value": s["count"], "text": str(s["count"]),
              "css": "series-a" if s["state"] == "active" else "series-muted",
              "cells": [str(s["label"]), str(s["count"])]} for s in states]
    active = next(s["count"] for s in states if s["state"] == "active")
    return charts.hbars(key="links", title=_("Share links"),
                        desc=ngettext("%(count)s link works now.", "%(count)s links work now.", active) % {
                            "count": active},
                        items=items, headers=[_("State"), _("Links")], empty="")


def _devices(now, tz) -> charts.Chart:
    labels = {"today": _("Today"), "week": _("In the last 7 days"), "month": _("In the last 30 days"),
              "older": _("Longer ago"), "never": _("Never")}
    buckets = stats.devices_by_last_backup(now=now, tz=tz)
    css = {"today": "series-a", "week": "series-a", "month": "series-warn", "older": "series-danger",
           "never": "series-danger"}
    items = [{"label": labels[b.key], "value": b.count, "text": str(b.count), "css": css[b.key],
              "cells": [labels[b.key], str(b.count)]} for b in buckets]
    total = sum(b.count for b in buckets)
    return charts.hbars(key="devices", title=_("Devices by last backup"),
                        desc=ngettext("%(count)s enrolled device, by the time of its last backup.",
                                      "%(count)s enrolled devices, by the time of their last backup.", total) % {
                            "count": total},
                        items=items, headers=[_("Last backup"), _("Devices")], empty="")


@portal_page
@require_GET
def home(request):
    if not is_admin(request.user):
        raise Http404
    days = _days(request.GET.get("days"))
    now, tz = timezone.now(), timezone.get_current_timezone()
    total = stats.storage_total()
    context = {
        "console_section": "home", "days": days, "periods": PERIODS,
        "charts": [_storage_per_space(), _storage_over_time(now, tz, days, total), _traffic(now, tz, days),
                   _links(now), _devices(now, tz), _failed_signins(now, tz, days)],
    }
    return TemplateResponse(request, "manage/home.html", context)
