"""The figures behind the console home's charts. Each is one or two
aggregate queries; days are counted in the viewer's time zone (``tz``),
and every day of the period is present (zero when nothing happened).

Administrators only: callers check ``is_admin`` first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from django.conf import settings
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from portal.adminpanel.snapshots_model import StorageSnapshot
from portal.audit.actions import Action
from portal.audit.models import AuditEvent, Outcome
from portal.backups.models import Device
from portal.shares.models import LinkState, ShareLink
from portal.spaces.models import Space

UPLOADS = (Action.FILE_UPLOADED,)
DOWNLOADS = (Action.FILE_DOWNLOADED, Action.SHARE_DOWNLOADED, Action.FILE_ZIP_DOWNLOADED)
FAILED_SIGNINS = (Action.LOGIN_FAILED,)
THROTTLED_SIGNINS = (Action.LOGIN_THROTTLED,)
TOP_SPACES = 10


def local_today(now: datetime, tz: tzinfo) -> date:
    return timezone.localtime(now, tz).date()


def day_range(now: datetime, tz: tzinfo, days: int) -> list[date]:
    """The last ``days`` days, oldest first, today included."""
    today = local_today(now, tz)
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def _start_of(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=tz)


def storage_per_space(*, limit: int = TOP_SPACES) -> list[dict]:
    """The spaces that use the most, with their quotas (one query)."""
    return list(Space.objects.order_by("-used_bytes", "name").values("id", "name", "used_bytes",
                                                                       "quota_bytes")[:limit])


def storage_total() -> dict:
    """All spaces' used bytes and quotas now (one query)."""
    return Space.objects.aggregate(used=Coalesce(Sum("used_bytes"), 0), quota=Coalesce(Sum("quota_bytes"), 0),
                                   spaces=Count("id"))


def storage_over_time(*, now: datetime, tz: tzinfo, days: int, total: dict) -> list[tuple[date, int]]:
    """The daily total of used bytes from the snapshots (one query); today is
    the live ``total`` (from storage_total). Days before the first snapshot
    are left out, not drawn as zero."""
    period = day_range(now, tz, days)
    rows = dict(StorageSnapshot.objects.filter(day__gte=period[0], day__lte=period[-1])
                .values_list("day", "used_bytes"))
    rows[period[-1]] = total["used"]
    return [(day, rows[day]) for day in period if day in rows]


def _per_day(events, *, tz: tzinfo, period: list[date], **counts) -> list[dict]:
    """Count ``events`` per local day (one GROUP BY query), one dict per day of ``period``."""
    rows = (events.filter(created_at__gte=_start_of(period[0], tz), created_at__lt=_start_of(period[-1], tz)
                          + timedelta(days=1))
            .annotate(day=TruncDate("created_at", tzinfo=tz)).order_by().values("day")
            .annotate(**{name: Count("id", filter=Q(action__in=actions)) for name, actions in counts.items()}))
    by_day = {row["day"]: row for row in rows}
    return [{"day": day, **{name: by_day.get(day, {}).get(name, 0) for name in counts}} for day in period]


def traffic_per_day(*, now: datetime, tz: tzinfo, days: int) -> list[dict]:
    """Successful uploads and downloads (files, zips, through links) per day."""
    events = AuditEvent.objects.filter(action__in=UPLOADS + DOWNLOADS, outcome=Outcome.SUCCESS)
    return _per_day(events, tz=tz, period=day_range(now, tz, days), uploads=UPLOADS, downloads=DOWNLOADS)


def failed_signins_per_day(*, now: datetime, tz: tzinfo, days: int) -> list[dict]:
    """Failed and throttled sign-ins per day."""
    events = AuditEvent.objects.filter(action__in=FAILED_SIGNINS + THROTTLED_SIGNINS)
    return _per_day(events, tz=tz, period=day_range(now, tz, days), failed=FAILED_SIGNINS,
                    throttled=THROTTLED_SIGNINS)


def _link_state(now: datetime) -> Case:
    """ShareLink.state_at, in SQL (same order of checks)."""
    limits = (Q(max_downloads__isnull=False, download_count__gte=F("max_downloads"))
              | Q(max_previews__isnull=False, preview_count__gte=F("max_previews")))
    return Case(
        When(revoked_at__isnull=False, then=Value(LinkState.REVOKED)),
        When(node__trashed_at__isnull=False, then=Value(LinkState.REMOVED)),
        When(Q(owner_enabled=False) | Q(manager_enabled=False), then=Value(LinkState.DISABLED)),
        When(expires_at__lte=now, then=Value(LinkState.EXPIRED)),
        When(limits, then=Value(LinkState.EXHAUSTED)),
        default=Value(LinkState.ACTIVE))


def links_by_state(*, now: datetime) -> list[dict]:
    """Every link state with its count, in the order LinkState lists them (one query)."""
    counts = dict(ShareLink.objects.annotate(state=_link_state(now)).order_by().values("state")
                  .annotate(n=Count("id")).values_list("state", "n"))
    return [{"state": state, "label": label, "count": counts.get(state, 0)} for state, label in LinkState.choices]


@dataclass(frozen=True)
class Bucket:
    key: str
    count: int


def devices_by_last_backup(*, now: datetime, tz: tzinfo) -> list[Bucket]:
    """Enrolled (not revoked) devices by their last backup: today (local
    day), in the last 7 days, in the last 30 days, older, never (one query)."""
    midnight = _start_of(local_today(now, tz), tz)  # always after ``week``
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    last = "last_backup_at"
    row = Device.objects.filter(revoked_at__isnull=True).aggregate(
        today=Count("id", filter=Q(**{f"{last}__gte": midnight})),
        week=Count("id", filter=Q(**{f"{last}__lt": midnight, f"{last}__gte": week})),
        month=Count("id", filter=Q(**{f"{last}__lt": week, f"{last}__gte": month})),
        older=Count("id", filter=Q(**{f"{last}__lt": month})),
        never=Count("id", filter=Q(**{f"{last}__isnull": True})))
    return [Bucket(key, row[key]) for key in ("today", "week", "month", "older", "never")]


def snapshot_day(now: datetime | None = None) -> date:
    """The snapshot's day: the deployment's (settings.TIME_ZONE), so every viewer reads the same history."""
    import zoneinfo

    return local_today(now or timezone.now(), zoneinfo.ZoneInfo(settings.TIME_ZONE))

