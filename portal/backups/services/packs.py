"""The pack index: announcing a pack, registering its chunks, and asking
which chunks are known and where. Called with the authenticated device.

A device PUTs a pack straight to its own key (models.pack_key) through a
create-only URL: the object can be created once and never replaced, so an
indexed pack's bytes never change. Registering a pack checks that the object
is there with its announced size; the full check of every blob (each opens
with the owner's keys and hashes to its id) runs afterwards, off the
request (``pack_check``, the ``backups.check_pack`` task). Until then only the
device that wrote the pack relies on it: before any other device is told a
chunk of it is known, or keeps a duplicate pointing at it, the pack is checked
on that device's request."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.backups import crypto
from portal.backups.keys import keys_of, user_key_set
from portal.backups.models import Chunk, ChunkKind, Device, Pack, pack_key
from portal.backups.services.reader import locate
from portal.core.errors import Conflict, InvalidInput, NotFound
from portal.core.validation import whole_number
from portal.storage import ObjectNotFound, get_store
from portal.storage.base import CREATE_ONLY_HEADERS, presign_lifetime
from portal.outbox.services import enqueue

logger = logging.getLogger(__name__)
MAX_IDS = 10_000
# Releases before direct pack PUTs sent packs here and copied them at index time;
# GC removes what is left of those uploads.
UPLOAD_PREFIX = "backups/uploads/"


def upload_key(pack_id: str) -> str:
    """Where a release before direct pack PUTs had a pack uploaded (GC removes leftovers)."""
    return f"{UPLOAD_PREFIX}{pack_id[:2]}/{pack_id}"


def clean_ids(ids, *, field: str = "ids") -> list[str]:
    if not isinstance(ids, list):
        raise InvalidInput(gettext("%(field)s is a list of chunk ids.") % {"field": field}, code="invalid_ids")
    if len(ids) > MAX_IDS:
        raise InvalidInput(gettext("At most %(MAX_IDS)s ids per request (%(count)s sent).") % {"MAX_IDS": MAX_IDS, "count": len(ids)}, code="too_many_ids",
                           detail={"max": MAX_IDS})
    bad = next((value for value in ids if not crypto.is_chunk_id(value)), None)
    if bad is not None:
        raise InvalidInput(gettext("%(bad)r is not a chunk id (64 lowercase hex).") % {"bad": bad}, code="invalid_ids")
    return list(dict.fromkeys(ids))


def pack_create(*, device: Device, size) -> tuple[Pack, str, dict[str, str], datetime]:
    """A device announces a pack of ``size`` bytes: its id, a URL that creates
    the pack's object with exactly those bytes (once: it never replaces it),
    the headers to PUT with, and when that URL stops working."""
    size = whole_number(size, field="size", minimum=crypto.BLOB_OVERHEAD, maximum=settings.BACKUP_PACK_MAX_SIZE)
    pack = Pack.objects.create(pack_id=secrets.token_hex(16), device=device, size=size, owner=device.user,
                               key_set=user_key_set(device.user))
    lifetime = presign_lifetime(None)
    url = get_store().presign_put(pack.key, size=size, expires=lifetime, create_only=True)
    return pack, url, dict(CREATE_ONLY_HEADERS), timezone.now() + timedelta(seconds=lifetime)


def _clean_entries(chunks, pack: Pack) -> list[Chunk]:
    if not isinstance(chunks, list) or not chunks or len(chunks) > MAX_IDS:
        raise InvalidInput(gettext("chunks is a list of 1 to %(MAX_IDS)s entries.") % {"MAX_IDS": MAX_IDS}, code="invalid_chunks")
    rows: dict[str, Chunk] = {}
    for index, entry in enumerate(chunks):
        where = f"chunks[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "offset", "length", "raw_length", "kind"}:
            raise InvalidInput(gettext("%(where)s needs exactly id, offset, length, raw_length and kind.") % {"where": where},
                               code="invalid_chunks", detail={"index": index})
        if not crypto.is_chunk_id(entry["id"]) or entry["kind"] not in ChunkKind.values:
            raise InvalidInput(gettext("%(where)s has a bad id or kind.") % {"where": where}, code="invalid_chunks", detail={"index": index})
        offset = whole_number(entry["offset"], field=f"{where}.offset", minimum=0)
        length = whole_number(entry["length"], field=f"{where}.length", minimum=crypto.BLOB_OVERHEAD)
        raw = whole_number(entry["raw_length"], field=f"{where}.raw_length", minimum=0,
                           maximum=crypto.MAX_PLAINTEXT)
        if offset + length > pack.size:
            raise InvalidInput(gettext("%(where)s ends past the pack's %(size)s bytes.") % {"where": where, "size": pack.size}, code="invalid_chunks",
                               detail={"index": index})
        rows.setdefault(entry["id"], Chunk(id=entry["id"], pack=pack, owner_id=pack.owner_id, offset=offset,
                                           length=length, raw_length=raw, kind=entry["kind"]))
    return list(rows.values())


def _check_blobs(pack: Pack, rows: list[Chunk], *, start: int = 0, end: int | None = None) -> None:
    """Every blob opens and hashes to its id: a device cannot register an id
    for bytes that are not its chunk (that would poison deduplication for
    the user's other devices). InvalidInput ``bad_chunk`` naming the first bad
    one. ``start``/``end``: read only that window of the pack (inclusive)."""
    keys = keys_of(pack.key_set)  # the owner's: ids keyed with another set do not verify
    with get_store().open(pack.key, start=start, end=end) as stream:
        data = stream.read()
    for row in rows:
        try:
            blob = data[row.offset - start:row.offset - start + row.length]
            plaintext = crypto.open_blob(keys.data_key, row.id, blob, id_key=keys.id_key)
        except crypto.BlobInvalid as exc:
            raise InvalidInput(str(exc), code="bad_chunk", detail={"id": row.id}) from None  # for the agent
        if len(plaintext) != row.raw_length:
            raise InvalidInput(gettext("Chunk %(id)s is %(count)s bytes, not %(raw_length)s.") % {
                "id": row.id, "count": len(plaintext), "raw_length": row.raw_length}, code="bad_chunk", detail={"id": row.id})


def _stored(pack: Pack) -> None:
    """The pack's object is there with the announced size (the store refuses any other
    size at PUT, but an index call may come before the bytes)."""
    try:
        stored = get_store().size(pack.key)
    except ObjectNotFound:
        raise Conflict(gettext("The pack's bytes are not in the object store; upload them first."),
                       code="pack_missing") from None
    if stored != pack.size:
        raise Conflict(gettext("The stored pack has %(stored)s bytes, not the %(size)s announced.") % {"stored": stored, "size": pack.size},
                       code="pack_size_mismatch", detail={"stored": stored, "announced": pack.size})


def _queue_check(pack: Pack) -> None:
    from portal.backups.tasks import check_pack  # tasks import the services

    enqueue(check_pack, pack.pk)


def _reject(pack: Pack, problem: InvalidInput) -> None:
    """A pack that failed its check: nothing relies on its rows any more; its device is told."""
    Chunk.objects.filter(pack=pack).delete()
    Pack.objects.filter(pk=pack.pk).update(checked_at=timezone.now())
    message = f"pack {pack.pack_id} was refused: {problem.message} Its chunks are sent again by the next backup."
    if pack.device_id:
        Device.objects.filter(pk=pack.device_id).update(last_error=message[:4000], last_error_at=timezone.now())
    record(action=Action.BACKUP_VERIFIED, actor=None, target_label=f"pack {pack.pack_id}", outcome=Outcome.FAILURE,
           details={"pack": pack.pack_id, "device": pack.device_id, "bad_chunk": problem.detail.get("id"),
                    "error": problem.message})
    logger.error("backup pack %s failed its check: %s", pack.pack_id, problem.message)


@transaction.atomic
def pack_check(*, pack_pk: int) -> bool:
    """The system (or a device about to rely on another device's pack) checks
    every blob of an indexed pack once; False if it failed, which removes its
    index rows, sets its device's error state and is audited ``backup.verified``
    (failure), or if its object is missing (left unchecked, for verify to report)."""
    pack = (Pack.objects.select_for_update().select_related("key_set")
            .filter(pk=pack_pk, indexed_at__isnull=False, checked_at__isnull=True).first())
    if pack is None:  # checked already (a refused or vanished pack keeps no rows), or never indexed
        return Chunk.objects.filter(pack_id=pack_pk).exists()
    try:
        _check_blobs(pack, list(Chunk.objects.filter(pack=pack)))
    except InvalidInput as exc:
        _reject(pack, exc)
        return False
    except ObjectNotFound:  # a fault of the store, not of the device: backups.verify reports it
        logger.error("backup pack %s is missing from the object store; not checked", pack.pack_id)
        return False
    Pack.objects.filter(pk=pack.pk).update(checked_at=timezone.now())
    return True


def _usable_by(device: Device) -> Q:
    """Index rows a device may rely on without a check: checked packs, and its own."""
    return Q(pack__checked_at__isnull=False) | Q(pack__device=device)


def _check_others(device: Device, pack_pks) -> set[int]:
    """Check the unchecked packs of other devices that ``device`` is about to rely on; the ones that failed."""
    return {pk for pk in sorted(set(pack_pks)) if not pack_check(pack_pk=pk)}


@transaction.atomic
def pack_index(*, device: Device, pack_id: str, chunks) -> dict[str, int]:
    """The device that announced a pack registers its chunks once the bytes
    are stored. Idempotent; an id already indexed elsewhere stays there."""
    # Locked: two index calls of one pack register it once.
    pack = (Pack.objects.select_for_update().select_related("key_set").filter(pack_id=pack_id, device=device).first()
            if isinstance(pack_id, str) else None)
    if pack is None:
        raise NotFound(gettext("No such pack; announce it with POST /backup/packs first."))
    rows = _clean_entries(chunks, pack)
    if pack.key_set.deployment_wide:  # announced before key sets were per user: its ids would cross users
        raise Conflict(gettext("This pack was announced before backups had per-user keys; upload its chunks again."),
                       code="pack_key_set_retired")
    if pack.indexed_at is None:
        _stored(pack)
    # A spot check of the smallest blob, here: an agent sealing with the wrong keys fails loudly
    # at once (the full check, later, is what a forged pack cannot get past).
    spot = min(rows, key=lambda row: (row.length, row.offset))
    _check_blobs(pack, [spot], start=spot.offset, end=spot.offset + spot.length - 1)
    ids = [row.id for row in rows]
    before = Chunk.objects.filter(pack=pack).count()
    Chunk.objects.bulk_create(rows, ignore_conflicts=True)
    # A duplicate kept in another device's unchecked pack: check that pack before relying on it
    # (if it fails, its rows go and this pack's take their place).
    others = (Chunk.objects.filter(id__in=ids, owner_id=pack.owner_id).exclude(_usable_by(device))
              .values_list("pack_id", flat=True))
    if _check_others(device, others):
        Chunk.objects.bulk_create(rows, ignore_conflicts=True)
    mine = Chunk.objects.filter(pack=pack, id__in=ids).count()
    if pack.indexed_at is None or Chunk.objects.filter(pack=pack).count() > before:
        # New rows (a first index, or a later call naming more blobs): unchecked until the check runs again.
        Pack.objects.filter(pk=pack.pk).update(indexed_at=pack.indexed_at or timezone.now(), checked_at=None)
        _queue_check(pack)
    return {"registered": mine, "duplicates": len(rows) - mine}


def pack_check_pending() -> dict[str, int]:
    """The system checks every indexed pack not checked yet (a queued check
    lost to a crash); how many passed and failed."""
    done = {"passed": 0, "failed": 0}
    for pk in Pack.objects.filter(indexed_at__isnull=False, checked_at__isnull=True).values_list("pk", flat=True):
        done["passed" if pack_check(pack_pk=pk) else "failed"] += 1
    return done


def _claim(pack_ids) -> None:
    """GC leaves packs alone whose chunks a device was just told about."""
    Pack.objects.filter(pack_id__in=set(pack_ids)).update(claimed_at=timezone.now())


def chunks_known(*, device: Device, ids) -> list[str]:
    """Which of ``ids`` the index holds for the device's user: another user's
    chunks are never known, so dedup stays within one user. A chunk in another
    device's pack that is not checked yet is known once that pack passes its check."""
    ids = clean_ids(ids)
    rows = list(Chunk.objects.filter(id__in=ids, owner=device.user)
                .values_list("id", "pack__pack_id", "pack_id", "pack__checked_at", "pack__device_id"))
    failed = _check_others(device, [pk for _, _, pk, checked, dev in rows if checked is None and dev != device.pk])
    rows = [row for row in rows if row[2] not in failed]
    _claim(pack for _, pack, *_ in rows)
    return [row[0] for row in rows]


def chunks_locate(*, device: Device, ids) -> dict:
    """Where the device's user's ids are, with a presigned GET per pack (only
    packs of that user) and the key set each is sealed with; the rest (and
    every other user's) as missing."""
    ids = clean_ids(ids)
    where = locate(ids, owner=device.user)
    key_sets = dict(Pack.objects.filter(pack_id__in={loc.pack_id for loc in where.values()}, owner=device.user)
                    .values_list("pack_id", "key_set__key_id"))
    store, urls = get_store(), {}
    chunks = {}
    for cid, loc in where.items():
        if loc.pack_id not in urls:
            urls[loc.pack_id] = store.presign_get(pack_key(loc.pack_id), filename=loc.pack_id)
        chunks[cid] = {"pack_id": loc.pack_id, "offset": loc.offset, "length": loc.length, "url": urls[loc.pack_id],
                       "key_set": key_sets[loc.pack_id]}
    _claim(urls)
    return {"chunks": chunks, "missing": [cid for cid in ids if cid not in where]}
