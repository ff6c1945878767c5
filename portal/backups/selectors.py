"""Reads, always scoped to what the actor may see: a user sees their own
devices, an administrator every device; a device only itself. Missing and
forbidden objects answer the same NotFound."""

from __future__ import annotations

from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from portal.backups.models import Device, Pack, Snapshot
from portal.core.access import is_admin
from portal.core.errors import NotFound
from django.utils.translation import gettext


def _annotated(queryset):
    stored = (Pack.objects.filter(device=OuterRef("pk"), indexed_at__isnull=False).order_by()
              .values("device").annotate(total=Sum("size")).values("total"))
    return queryset.select_related("user").annotate(
        snapshot_count=Count("snapshots", distinct=True),
        stored_bytes=Coalesce(Subquery(stored), 0))


def devices_visible_to(actor, *, everyone: bool = False):
    """``actor``'s devices; with ``everyone``, every device if ``actor`` is an administrator."""
    queryset = Device.objects.all() if everyone and is_admin(actor) else Device.objects.filter(user=actor)
    return _annotated(queryset).order_by("-created_at", "-id")


def access_device(actor, device_id) -> Device:
    """A device its owner (or an administrator) may see; NotFound otherwise."""
    queryset = Device.objects.all() if is_admin(actor) else Device.objects.filter(user=actor)
    device = _annotated(queryset).filter(pk=device_id).first()
    if device is None:
        raise NotFound(gettext("No such device."))
    return device


def snapshot_list(device: Device):
    return Snapshot.objects.filter(device=device).select_related("key_set").order_by("-started_at", "-id")


def access_snapshot(device: Device, snapshot_id) -> Snapshot:
    """One of ``device``'s snapshots; another device's is NotFound like a missing one."""
    snapshot = Snapshot.objects.select_related("device__user", "key_set").filter(pk=snapshot_id, device=device).first()
    if snapshot is None:
        raise NotFound(gettext("No such snapshot."))
    return snapshot
