"""Verification (the ``backups.verify`` task): every snapshot's trees read
and open, every data chunk they name is indexed, every pack they use is in
the object store with its indexed size, and a random sample of data blobs
decrypts to data matching its id."""

from __future__ import annotations

import logging
import random

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.backups.models import BackupKeySet, Chunk, Device, Pack, Snapshot, pack_key
from portal.backups.services.reader import BlobReader, SnapshotDamaged, data_chunks, locate
from portal.core.errors import NotFound
from portal.storage import ObjectStore, get_store

logger = logging.getLogger(__name__)


def _pack_problems(store: ObjectStore, pack_ids: set[str]) -> dict[str, str]:
    """pack id -> what is wrong with its object."""
    sizes = dict(Pack.objects.filter(pack_id__in=pack_ids).values_list("pack_id", "size"))
    problems = {}
    for pack_id in sorted(pack_ids):
        try:
            stored = store.size(pack_key(pack_id))
        except NotFound:
            problems[pack_id] = "missing from the object store"
            continue
        if stored != sizes.get(pack_id):
            problems[pack_id] = f"{stored} bytes stored, {sizes.get(pack_id)} indexed"
    return problems


def _reader(readers: dict[int, BlobReader], key_set_id: int) -> BlobReader:
    if key_set_id not in readers:
        readers[key_set_id] = BlobReader(key_set=BackupKeySet.objects.get(pk=key_set_id), check_ids=True)
    return readers[key_set_id]


def _snapshot_chunks(reader: BlobReader, snapshot: Snapshot) -> set[str]:
    ids: set[str] = set()
    for tree_id, entries in reader.walk(snapshot.root):
        ids.add(tree_id)
        ids.update(data_chunks(entries))
    return ids


def _sample(readers: dict[int, BlobReader], ids: list[str], size: int) -> list[dict]:
    """Read a random sample of ``ids``, each with its pack's key set."""
    bad = []
    picked = random.sample(ids, min(size, len(ids)))
    key_sets = dict(Chunk.objects.filter(id__in=picked).values_list("id", "pack__key_set"))
    for cid in picked:
        try:
            list(_reader(readers, key_sets[cid]).read([cid]))
        except SnapshotDamaged as exc:
            bad.append({"chunk": cid, "error": exc.message})
    return bad


def backup_verify(*, sample: int | None = None) -> dict:
    """The system checks every snapshot; a report. Devices with a damaged
    snapshot get an error state; audited ``backup.verified``."""
    readers: dict[int, BlobReader] = {}  # one per key set: each snapshot is read with its own
    damaged: dict[int, list[str]] = {}
    per_snapshot: dict[int, set[str]] = {}
    snapshots = list(Snapshot.objects.select_related("device"))
    for snapshot in snapshots:
        try:
            per_snapshot[snapshot.pk] = _snapshot_chunks(_reader(readers, snapshot.key_set_id), snapshot)
        except SnapshotDamaged as exc:
            damaged.setdefault(snapshot.pk, []).append(exc.message)
    everything = set().union(*per_snapshot.values()) if per_snapshot else set()
    where = locate(everything)
    bad_packs = _pack_problems(get_store(), {loc.pack_id for loc in where.values()})
    for snapshot_pk, ids in per_snapshot.items():
        missing = [cid for cid in ids if cid not in where]
        if missing:
            damaged.setdefault(snapshot_pk, []).append(f"{len(missing)} chunk(s) not indexed, e.g. {missing[0]}")
        for pack_id in sorted({where[cid].pack_id for cid in ids if cid in where} & set(bad_packs)):
            damaged.setdefault(snapshot_pk, []).append(f"pack {pack_id} {bad_packs[pack_id]}")
    readable = sorted(cid for cid, loc in where.items() if loc.pack_id not in bad_packs)
    bad_blobs = _sample(readers, readable, settings.BACKUP_VERIFY_SAMPLE if sample is None else sample)
    report = {"ok": not (damaged or bad_packs or bad_blobs), "snapshots": len(snapshots), "chunks": len(everything),
              "damaged": [{"snapshot": pk, "problems": problems} for pk, problems in sorted(damaged.items())],
              "bad_packs": bad_packs, "bad_blobs": bad_blobs,
              "sampled": min(len(readable), settings.BACKUP_VERIFY_SAMPLE if sample is None else sample)}
    _record(report, snapshots, damaged)
    return report


@transaction.atomic
def _record(report: dict, snapshots: list[Snapshot], damaged: dict[int, list[str]]) -> None:
    by_pk = {s.pk: s for s in snapshots}
    for snapshot_pk, problems in damaged.items():
        device = by_pk[snapshot_pk].device
        Device.objects.filter(pk=device.pk).update(
            last_error=f"verify: snapshot {snapshot_pk} is damaged: {problems[0]}"[:4000],
            last_error_at=timezone.now())
    if not report["ok"]:
        logger.error("backup verify found problems: %s", report)
    record(action=Action.BACKUP_VERIFIED, actor=None, target_label="backups",
           outcome=Outcome.SUCCESS if report["ok"] else Outcome.FAILURE,
           details={key: report[key] for key in ("ok", "snapshots", "chunks", "sampled")}
           | {"damaged": report["damaged"][:50], "bad_packs": dict(list(report["bad_packs"].items())[:50]),
              "bad_blobs": report["bad_blobs"][:50]})
