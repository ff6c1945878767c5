"""The pack index: announcing a pack, registering its chunks, and asking
which chunks are known and where. Called with the authenticated device."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal.backups import crypto
from portal.backups.keys import keys_of, user_key_set
from portal.backups.models import Chunk, ChunkKind, Device, Pack, pack_key
from portal.backups.services.reader import locate
from portal.core.errors import Conflict, InvalidInput, NotFound, PortalError
from portal.core.validation import whole_number
from portal.storage import ObjectNotFound, get_store
from portal.storage.base import presign_lifetime

logger = logging.getLogger(__name__)
MAX_IDS = 10_000
# Devices PUT a pack here; indexing copies it to the pack's own key (models.pack_key),
# which no URL writes to, so an indexed pack's bytes never change.
UPLOAD_PREFIX = "backups/uploads/"


def upload_key(pack_id: str) -> str:
    return f"{UPLOAD_PREFIX}{pack_id[:2]}/{pack_id}"


def clean_ids(ids, *, field: str = "ids") -> list[str]:
    if not isinstance(ids, list):
        raise InvalidInput(f"{field} is a list of chunk ids.", code="invalid_ids")
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"At most {MAX_IDS} ids per request ({len(ids)} sent).", code="too_many_ids",
                           detail={"max": MAX_IDS})
    bad = next((value for value in ids if not crypto.is_chunk_id(value)), None)
    if bad is not None:
        raise InvalidInput(f"{bad!r} is not a chunk id (64 lowercase hex).", code="invalid_ids")
    return list(dict.fromkeys(ids))


def pack_create(*, device: Device, size) -> tuple[Pack, str, datetime]:
    """A device announces a pack of ``size`` bytes: its id, a URL to PUT
    exactly those bytes to, and when that URL stops working."""
    size = whole_number(size, field="size", minimum=crypto.BLOB_OVERHEAD, maximum=settings.BACKUP_PACK_MAX_SIZE)
    pack = Pack.objects.create(pack_id=secrets.token_hex(16), device=device, size=size, owner=device.user,
                               key_set=user_key_set(device.user))
    lifetime = presign_lifetime(None)
    url = get_store().presign_put(upload_key(pack.pack_id), size=size, expires=lifetime)
    return pack, url, timezone.now() + timedelta(seconds=lifetime)


def _clean_entries(chunks, pack: Pack) -> list[Chunk]:
    if not isinstance(chunks, list) or not chunks or len(chunks) > MAX_IDS:
        raise InvalidInput(f"chunks is a list of 1 to {MAX_IDS} entries.", code="invalid_chunks")
    rows: dict[str, Chunk] = {}
    for index, entry in enumerate(chunks):
        where = f"chunks[{index}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "offset", "length", "raw_length", "kind"}:
            raise InvalidInput(f"{where} needs exactly id, offset, length, raw_length and kind.",
                               code="invalid_chunks", detail={"index": index})
        if not crypto.is_chunk_id(entry["id"]) or entry["kind"] not in ChunkKind.values:
            raise InvalidInput(f"{where} has a bad id or kind.", code="invalid_chunks", detail={"index": index})
        offset = whole_number(entry["offset"], field=f"{where}.offset", minimum=0)
        length = whole_number(entry["length"], field=f"{where}.length", minimum=crypto.BLOB_OVERHEAD)
        raw = whole_number(entry["raw_length"], field=f"{where}.raw_length", minimum=0,
                           maximum=crypto.MAX_PLAINTEXT)
        if offset + length > pack.size:
            raise InvalidInput(f"{where} ends past the pack's {pack.size} bytes.", code="invalid_chunks",
                               detail={"index": index})
        rows.setdefault(entry["id"], Chunk(id=entry["id"], pack=pack, owner_id=pack.owner_id, offset=offset,
                                           length=length, raw_length=raw, kind=entry["kind"]))
    return list(rows.values())


def _check_blobs(pack: Pack, rows: list[Chunk]) -> None:
    """Every blob opens and hashes to its id: a device cannot register an id
    for bytes that are not its chunk (that would poison deduplication for
    every other device)."""
    if pack.key_set.deployment_wide:  # announced before key sets were per user: its ids would cross users
        raise Conflict("This pack was announced before backups had per-user keys; upload its chunks again.",
                       code="pack_key_set_retired")
    keys = keys_of(pack.key_set)  # the owner's: ids keyed with another set do not verify
    with get_store().open(pack.key) as stream:
        data = stream.read()
    for row in rows:
        try:
            plaintext = crypto.open_blob(keys.data_key, row.id, data[row.offset:row.offset + row.length],
                                         id_key=keys.id_key)
        except crypto.BlobInvalid as exc:
            raise InvalidInput(f"{exc} Nothing was registered.", code="bad_chunk",
                               detail={"id": row.id}) from None
        if len(plaintext) != row.raw_length:
            raise InvalidInput(f"Chunk {row.id} is {len(plaintext)} bytes, not {row.raw_length}.",
                               code="bad_chunk", detail={"id": row.id})


def _seal(pack: Pack) -> None:
    """Copy the uploaded bytes to the pack's own key, once: after that, a PUT
    to the upload URL (valid for minutes more) changes only the upload object,
    which nothing reads. The blobs are then checked in the sealed copy."""
    if pack.indexed_at is not None:
        return
    try:
        stored = get_store().copy(upload_key(pack.pack_id), pack.key)
    except ObjectNotFound:
        raise Conflict("The pack's bytes are not in the object store; upload them first.",
                       code="pack_missing") from None
    if stored != pack.size:
        raise Conflict(f"The stored pack has {stored} bytes, not the {pack.size} announced.",
                       code="pack_size_mismatch", detail={"stored": stored, "announced": pack.size})


def _forget_upload(pack: Pack) -> None:
    """The upload object is only clutter once sealed; GC removes it if this fails."""
    try:
        get_store().delete(upload_key(pack.pack_id))
    except PortalError as exc:
        logger.warning("could not remove the upload of pack %s: %s", pack.pack_id, exc.message)


@transaction.atomic
def pack_index(*, device: Device, pack_id: str, chunks) -> dict[str, int]:
    """The device that announced a pack registers its chunks once the bytes
    are stored. Idempotent; an id already indexed elsewhere stays there."""
    # Locked: two index calls of one pack must not seal it twice.
    pack = (Pack.objects.select_for_update().filter(pack_id=pack_id, device=device).first()
            if isinstance(pack_id, str) else None)
    if pack is None:
        raise NotFound("No such pack; announce it with POST /backup/packs first.")
    rows = _clean_entries(chunks, pack)
    _seal(pack)
    _check_blobs(pack, rows)
    transaction.on_commit(lambda: _forget_upload(pack))
    with transaction.atomic():
        Chunk.objects.bulk_create(rows, ignore_conflicts=True)
        mine = Chunk.objects.filter(pack=pack, id__in=[row.id for row in rows]).count()
        if pack.indexed_at is None:
            Pack.objects.filter(pk=pack.pk).update(indexed_at=timezone.now())
    return {"registered": mine, "duplicates": len(rows) - mine}


def _claim(pack_ids) -> None:
    """GC leaves packs alone whose chunks a device was just told about."""
    Pack.objects.filter(pack_id__in=set(pack_ids)).update(claimed_at=timezone.now())


def chunks_known(*, device: Device, ids) -> list[str]:
    """Which of ``ids`` the index holds for the device's user (one indexed
    query): another user's chunks are never known, so dedup stays within one user."""
    ids = clean_ids(ids)
    rows = list(Chunk.objects.filter(id__in=ids, owner=device.user).values_list("id", "pack__pack_id"))
    _claim(pack for _, pack in rows)
    return [cid for cid, _ in rows]


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
