"""Reads, always scoped to what the actor may see: a user sees their own
devices, an administrator every device; a device only itself. Missing and
forbidden objects answer the same NotFound."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import PurePosixPath, PureWindowsPath

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from portal.backups.models import Device, DeviceActivity, Pack, Snapshot
from portal.core.access import is_admin
from portal.core.errors import NotFound


def _annotated(queryset):
    stored = (Pack.objects.filter(device=OuterRef("pk"), indexed_at__isnull=False).order_by()
              .values("device").annotate(total=Sum("size")).values("total"))
    last_pack = Pack.objects.filter(device=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    return queryset.select_related("user").annotate(
        snapshot_count=Count("snapshots", distinct=True),
        stored_bytes=Coalesce(Subquery(stored), 0),
        last_pack_at=Subquery(last_pack))


def device_activity(device: Device, *, now=None) -> str:
    """A DeviceActivity for a device of ``devices_visible_to``/``access_device``
    (annotated with ``last_pack_at``). Backing up only while a run is visibly
    under way: it announced a pack after its last snapshot, and both that and
    its last request are recent. A run that died mid-way ages into what was
    true before it; a finished one leaves the device idle."""
    now = now or timezone.now()
    recent = now - timedelta(minutes=settings.BACKUP_ACTIVE_MINUTES)
    since = device.last_backup_at or device.created_at
    last_pack = getattr(device, "last_pack_at", None)
    if device.revoked_at:
        return DeviceActivity.REVOKED
    if last_pack and last_pack > since and last_pack >= recent and (device.last_seen_at or last_pack) >= recent:
        return DeviceActivity.BACKING_UP
    if device.last_error_at and device.last_error_at > since:
        return DeviceActivity.FAILED
    return DeviceActivity.IDLE if device.last_backup_at else DeviceActivity.NEW


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


def _tree_parts(path: str) -> list[str]:
    """A backed-up folder as the agent names it in the tree: its parts below the anchor
    (``C:\\Users\\bob`` and ``/home/bob`` alike; sync_agent/tree.py drops the drive)."""
    windows = re.match(r"^(?:[A-Za-z]:|\\\\)", path) or "\\" in path
    parts = (PureWindowsPath(path) if windows else PurePosixPath(path)).parts
    return [part for part in parts[1:] if part not in ("", ".", "..")] if parts else []


def snapshot_home(snapshot: Snapshot) -> str:
    """Where browsing a snapshot starts: the folder it backed up, or the deepest
    folder holding all of them ("" for the root, when they share nothing)."""
    lists = [_tree_parts(path) for path in snapshot.paths or [] if isinstance(path, str)]
    if not lists:
        return ""
    common = []
    for parts in zip(*lists):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)
