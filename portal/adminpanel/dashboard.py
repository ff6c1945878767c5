"""The admin dashboard (/admin/dashboard/, staff only): storage per space,
active links, held locks, devices without a recent backup, failed sign-ins.
Every figure is one aggregated query; lists are capped."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.backups.models import Device
from portal.locks.models import Lock
from portal.shares.models import ShareLink
from portal.spaces.models import Space

LIST_MAX = 200
DEFAULT_DAYS = 7


def _days(raw) -> int:
    try:
        return min(max(int(raw), 1), 3650)
    except (TypeError, ValueError):
        return DEFAULT_DAYS


def active_links(now) -> int:
    return ShareLink.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True,
                                    owner_enabled=True, manager_enabled=True).count()


def stale_devices(now, days: int):
    cutoff = now - timedelta(days=days)
    return (Device.objects.filter(revoked_at__isnull=True)
            .filter(Q(last_backup_at__lt=cutoff) | Q(last_backup_at__isnull=True, created_at__lt=cutoff)))


def failed_signins(now):
    return AuditEvent.objects.filter(action=Action.LOGIN_FAILED, created_at__gte=now - timedelta(hours=24))


def dashboard(request):
    now = timezone.now()
    days = _days(request.GET.get("days", DEFAULT_DAYS))
    spaces = list(Space.objects.order_by("-used_bytes", "name").values("id", "name", "kind", "used_bytes",
                                                                       "quota_bytes")[:LIST_MAX])
    for space in spaces:
        space["percent"] = round(100 * space["used_bytes"] / space["quota_bytes"], 1) if space["quota_bytes"] else "—"
    storage = Space.objects.aggregate(used=Coalesce(Sum("used_bytes"), 0), quota=Coalesce(Sum("quota_bytes"), 0),
                                      spaces=Count("id"))
    held = Lock.objects.filter(expires_at__gt=now)
    stale = stale_devices(now, days)
    failed = failed_signins(now)
    context = {
        **admin.site.each_context(request),
        "title": gettext("Dashboard"),
        "days": days,
        "storage": storage,
        "spaces": spaces,
        "active_links": active_links(now),
        "held_locks_count": held.count(),
        "held_locks": held.select_related("node__space", "owner").order_by("expires_at")[:LIST_MAX],
        "stale_devices_count": stale.count(),
        "stale_devices": stale.select_related("user").order_by("last_backup_at")[:LIST_MAX],
        "failed_total": failed.count(),
        "throttled_total": AuditEvent.objects.filter(action=Action.LOGIN_THROTTLED,
                                                     created_at__gte=now - timedelta(hours=24)).count(),
        "failed": failed.values("ip", "actor_label").annotate(failures=Count("id"), last=Max("created_at"))
                        .order_by("-failures", "ip")[:LIST_MAX],
    }
    return TemplateResponse(request, "admin/coffer/dashboard.html", context)


admin_dashboard = admin.site.admin_view(dashboard)
