"""Committing a snapshot: the last step of a backup run."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.backups import crypto
from portal.backups.models import Chunk, ChunkKind, Device, Snapshot
from portal.backups.services.packs import pack_check
from portal.backups.services.reader import BlobReader
from portal.backups.services.treecheck import check_snapshot_trees
from portal.core.errors import Conflict, InvalidInput
from portal.core.validation import whole_number

STAT_FIELDS = ("files", "dirs", "bytes", "added_bytes", "skipped")
MAX_PATHS = 1000


def _when(value, field: str):
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidInput(gettext("%(field)s is an ISO 8601 date and time.") % {"field": field}, code="invalid_input", detail={"field": field})
    if timezone.is_naive(parsed):
        raise InvalidInput(gettext("%(field)s needs a time zone (e.g. 'Z').") % {"field": field}, code="invalid_input", detail={"field": field})
    return parsed


def _stats(stats) -> dict[str, int]:
    if not isinstance(stats, dict) or set(stats) - set(STAT_FIELDS):
        raise InvalidInput(gettext("stats holds only %(join)s.") % {"join": ', '.join(STAT_FIELDS)}, code="invalid_input",
                           detail={"field": "stats"})
    return {name: whole_number(stats.get(name, 0), field=f"stats.{name}", minimum=0) for name in STAT_FIELDS}


def _paths(paths) -> list[str]:
    if not isinstance(paths, list) or len(paths) > MAX_PATHS or not all(
            isinstance(p, str) and 0 < len(p) <= 4096 for p in paths):
        raise InvalidInput(gettext("paths is a list of at most %(MAX_PATHS)s non-empty paths.") % {"MAX_PATHS": MAX_PATHS}, code="invalid_input",
                           detail={"field": "paths"})
    return paths


@transaction.atomic
def snapshot_create(*, device: Device, root, started_at, finished_at, paths, hostname="", stats=None) -> Snapshot:
    """The authenticated device commits a snapshot whose root tree is known.
    Clears the device's error state; audited ``backup.completed``."""
    if not crypto.is_chunk_id(root):
        raise InvalidInput(gettext("root is a chunk id (64 lowercase hex)."), code="invalid_input", detail={"field": "root"})
    started, finished = _when(started_at, "started_at"), _when(finished_at, "finished_at")
    if finished < started:
        raise InvalidInput(gettext("finished_at is before started_at."), code="invalid_input")
    if not isinstance(hostname, str) or len(hostname) > 255:
        raise InvalidInput(gettext("hostname is text of at most 255 characters."), code="invalid_input")
    counts = _stats(stats if stats is not None else {})
    # Only the device's user's own chunks count; the snapshot is read with the root tree's key set.
    tree = Chunk.objects.filter(id=root, kind=ChunkKind.TREE, owner=device.user).select_related("pack").first()
    if tree is not None and tree.pack.checked_at is None and tree.pack.device_id != device.pk \
            and not pack_check(pack_pk=tree.pack_id):  # another device's pack: relied on once checked
        tree = None
    if tree is None:
        raise Conflict(gettext("The root tree is not in the index; register its pack first, then commit again."),
                       code="missing_chunks", detail={"missing": [root]})
    # A name like "../x" would make a restore write outside its target: refuse the snapshot now.
    check_snapshot_trees(BlobReader(key_set=tree.pack.key_set), root)
    snapshot = Snapshot.objects.create(device=device, root=root, key_set_id=tree.pack.key_set_id,
                                       started_at=started, finished_at=finished,
                                       paths=_paths(paths), hostname=hostname or device.hostname, **counts)
    Device.objects.filter(pk=device.pk).update(last_backup_at=timezone.now(), last_error="", last_error_at=None)
    record(action=Action.BACKUP_COMPLETED, actor=device.user, target=snapshot,
           target_label=f"{device.name}:{snapshot.pk}", details={"device": device.pk, **counts})
    return snapshot
