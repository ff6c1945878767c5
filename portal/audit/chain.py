"""The audit log's hash chain: sealing, checkpoints and exported heads.

How it works
------------
Writers only INSERT (``services.record``); they never wait for the chain. The
``audit.seal`` Celery task (beat, every ``PORTAL_AUDIT_SEAL_SECONDS``, 20 s)
calls ``chain_seal``: holding the one ``ChainState`` row (``SELECT ... FOR
UPDATE SKIP LOCKED``; a second sealer skips instead of queueing), it takes the
unsealed events in id order, gives them the next consecutive ``seq`` numbers
and sets, per event::

    chain_hash = HMAC-SHA256(chain key, canonical(event content, prev_hash))
    prev_hash  = chain_hash of the event at seq - 1 ("0" * 64 for seq 1)

``canonical`` is a JSON array (sorted keys, no spaces, ASCII only): a format
number, every content column (id, created_at as UTC ISO-8601 with
microseconds, actor, labels, action, outcome, target, space, ip, user agent,
details) and prev_hash. ``seq`` itself is not hashed: the position is fixed by
the prev_hash links, and seq is the index that makes gaps visible.

The key is derived from ``PORTAL_MASTER_KEY`` (or from
``PORTAL_AUDIT_CHAIN_KEY`` when set, e.g. to the old master key after a
rotation): someone with write access to the database alone cannot
recompute valid hashes after changing rows, so even a rewrite of the whole
table fails verification. Because the key might leak with the server, heads
are also kept outside the database: every sealing run that moved the head
(at most once per ``PORTAL_AUDIT_CHECKPOINT_SECONDS``, 60 s) writes a
``ChainCheckpoint``, puts it into the object store as
``audit/heads/<YYYY-MM-DD>/<seq, 20 digits>.json`` and logs it on the
``portal.audit.chain`` logger. A rewritten table, re-hashed with the key or
without, no longer ends in those heads.

Events become visible to the sealer when their transaction commits, so an
event may get a later seq than an event with a higher id: seq is the order of
sealing, not of ids.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.models import AuditEvent, ChainCheckpoint, ChainState
from portal.core.errors import PortalError
from portal.core.keys import AUDIT_CHAIN, derive_key
from portal.storage import ObjectStore, get_store

logger = logging.getLogger(__name__)
chain_log = logging.getLogger("portal.audit.chain")

FORMAT = 1
GENESIS = "0" * 64
SEAL_BATCH = 5000
HEADS_PREFIX = "audit/heads/"
# Content columns, in hashing order. Readers that verify use the same tuple.
CONTENT_FIELDS = ("id", "created_at", "actor_id", "actor_label", "action", "outcome", "target_type", "target_id",
                  "target_label", "space_id", "ip", "user_agent", "details")
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


class ChainKeyChanged(PortalError):
    code = "audit_chain_key_changed"
    status = 500


# --- hashing -------------------------------------------------------------------

def chain_key() -> bytes:
    """The HMAC key, derived from PORTAL_AUDIT_CHAIN_KEY if set, else from
    PORTAL_MASTER_KEY (so setting the former to the old master key keeps the
    chain verifiable across a master key rotation)."""
    return derive_key(AUDIT_CHAIN, master_key=settings.AUDIT_CHAIN_KEY or None)


def key_id(key: bytes) -> str:
    """A public fingerprint of ``key`` (stored and exported; says which key sealed)."""
    return hashlib.sha256(b"coffer audit key id\0" + key).hexdigest()[:16]


def canonical(row: tuple, prev_hash: str, *, raw: bool = False) -> bytes:
    """The bytes an event's hash covers; ``row`` holds CONTENT_FIELDS in order,
    as the ORM reads them, or (``raw``) as ``PG_CONTENT`` selects them:
    created_at already in the canonical text form and details as JSON text."""
    created, details = row[1], row[12]
    if raw:
        details = json.loads(details)
    else:
        created = created.astimezone(UTC).isoformat(timespec="microseconds")
    return _encode([FORMAT, row[0], created, *row[2:12], details, prev_hash]).encode()


def event_hash(key: bytes, row: tuple, prev_hash: str, *, raw: bool = False) -> str:
    return hmac.digest(key, canonical(row, prev_hash, raw=raw), "sha256").hex()


# On PostgreSQL the content is read with plain SQL: the timestamp formatted by
# the server (psycopg's C loaders then do the rest), about twice as fast as the
# ORM for a million-row verification. Sealer and verifier both read this way.
PG_CONTENT = ", ".join([
    "id", "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')", "actor_id",
    "actor_label", "action", "outcome", "target_type", "target_id", "target_label", "space_id", "host(ip)",
    "user_agent", "details::text"])


def unsealed_rows(size: int) -> tuple[list[tuple], bool]:
    """The oldest ``size`` unsealed events' content, and whether it is raw."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {PG_CONTENT} FROM {AuditEvent._meta.db_table} WHERE seq IS NULL "
                           "ORDER BY id LIMIT %s", [size])
            return cursor.fetchall(), True
    return list(AuditEvent.objects.filter(seq__isnull=True).order_by("id").values_list(*CONTENT_FIELDS)[:size]), False


# --- sealing -------------------------------------------------------------------

def chain_state_locked(*, skip_locked: bool) -> ChainState | None:
    """The head row, locked for this transaction; None when ``skip_locked`` and
    another sealer holds it. Created on first use (also after a test flush)."""
    state = ChainState.objects.select_for_update(skip_locked=skip_locked).filter(pk=1).first()
    if state is not None:
        return state
    if ChainState.objects.filter(pk=1).exists():
        return None  # locked by another sealer
    try:
        with transaction.atomic():
            ChainState.objects.create(pk=1)
    except IntegrityError:
        pass  # another sealer created it first
    return ChainState.objects.select_for_update(skip_locked=skip_locked).filter(pk=1).first()


def _write_seals(seals: list[tuple[int, int, str, str]], sealed_at: datetime) -> None:
    """Set (id, seq, prev_hash, chain_hash) on unsealed events: the one change
    the append-only log allows, made only here (``seq IS NULL`` guards it)."""
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids, seqs, prevs, hashes = (list(column) for column in zip(*seals, strict=True))
            cursor.execute(
                f"UPDATE {table} AS e SET seq = v.seq, prev_hash = v.prev, chain_hash = v.hash, sealed_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS v(id, seq, prev, hash) "
                "WHERE e.id = v.id AND e.seq IS NULL", [sealed_at, ids, seqs, prevs, hashes])
        else:
            cursor.executemany(
                f"UPDATE {table} SET seq = %s, prev_hash = %s, chain_hash = %s, sealed_at = %s "
                "WHERE id = %s AND seq IS NULL", [(seq, prev, digest, sealed_at, pk) for pk, seq, prev, digest in seals])
        if cursor.rowcount != len(seals) and connection.vendor == "postgresql":
            raise RuntimeError(f"sealing updated {cursor.rowcount} of {len(seals)} events")


@transaction.atomic
def _seal_batch(size: int) -> int | None:
    state = chain_state_locked(skip_locked=True)
    if state is None:
        return None
    key = chain_key()
    kid = key_id(key)
    if state.head_seq and state.key_id and state.key_id != kid:
        raise ChainKeyChanged(
            gettext("The audit chain was sealed with key %(key_id)s, but this portal's key is %(kid)s: PORTAL_MASTER_KEY (or PORTAL_AUDIT_CHAIN_KEY) changed. Restore it, or set PORTAL_AUDIT_CHAIN_KEY to the old chain key; events stay unsealed until then.") % {"key_id": state.key_id, "kid": kid})
    rows, raw = unsealed_rows(size)
    if not rows:
        return 0
    seq, prev = state.head_seq, state.head_hash
    seals = []
    for row in rows:
        seq += 1
        digest = event_hash(key, row, prev, raw=raw)
        seals.append((row[0], seq, prev, digest))
        prev = digest
    _write_seals(seals, timezone.now())
    ChainState.objects.filter(pk=1).update(head_seq=seq, head_hash=prev, key_id=kid, updated_at=timezone.now())
    return len(rows)


def chain_seal(*, limit: int | None = None, batch: int = SEAL_BATCH) -> int:
    """Seal unsealed events (at most ``limit``), ``batch`` per transaction;
    the number sealed. Returns at once (0) while another sealer runs. Called by
    the ``audit.seal`` task; safe to call from anywhere, at any time."""
    total = 0
    while limit is None or total < limit:
        size = batch if limit is None else min(batch, limit - total)
        sealed = _seal_batch(size)
        if not sealed:
            break
        total += sealed
        if sealed < size:
            break
    return total


# --- checkpoints and exported heads --------------------------------------------

def checkpoint_create(*, force: bool = False) -> ChainCheckpoint | None:
    """Keep the current head as a checkpoint if it moved since the last one and
    that one is at least PORTAL_AUDIT_CHECKPOINT_SECONDS old (``force``: if it
    moved at all). None when there was nothing to keep."""
    with transaction.atomic():
        state = chain_state_locked(skip_locked=False)
        last = ChainCheckpoint.objects.order_by("-seq").first()
        if state is None or state.head_seq == 0 or (last is not None and last.seq >= state.head_seq):
            return None
        now = timezone.now()
        if not force and last is not None and (now - last.created_at).total_seconds() < settings.AUDIT_CHECKPOINT_SECONDS:
            return None
        checkpoint = ChainCheckpoint.objects.create(seq=state.head_seq, hash=state.head_hash, key_id=state.key_id,
                                                    created_at=now)
    chain_log.info("audit chain head seq=%d hash=%s key_id=%s", checkpoint.seq, checkpoint.hash, checkpoint.key_id)
    return checkpoint


def head_key(checkpoint: ChainCheckpoint) -> str:
    return f"{HEADS_PREFIX}{checkpoint.created_at.astimezone(UTC):%Y-%m-%d}/{checkpoint.seq:020d}.json"


def head_document(checkpoint: ChainCheckpoint) -> dict:
    return {"format": FORMAT, "seq": checkpoint.seq, "hash": checkpoint.hash, "key_id": checkpoint.key_id,
            "created_at": checkpoint.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "portal": settings.PUBLIC_URL}


def checkpoints_export(*, store: ObjectStore | None = None, limit: int = 100) -> int:
    """Put checkpoints not yet exported into the object store, oldest first; the
    number exported. A store that does not answer leaves them for the next run."""
    store = store or get_store()
    exported = 0
    for checkpoint in ChainCheckpoint.objects.filter(exported_key="").order_by("seq")[:limit]:
        key = head_key(checkpoint)
        body = json.dumps(head_document(checkpoint), sort_keys=True).encode()
        try:
            store.put(key, io.BytesIO(body), content_type="application/json")
        except PortalError as exc:
            logger.warning("audit chain head seq=%d not exported (%s); retrying next run", checkpoint.seq, exc)
            break
        ChainCheckpoint.objects.filter(pk=checkpoint.pk).update(exported_key=key, exported_at=timezone.now())
        chain_log.info("audit chain head seq=%d hash=%s exported to %s", checkpoint.seq, checkpoint.hash, key)
        exported += 1
    return exported


@dataclass(frozen=True)
class SealRun:
    sealed: int
    checkpoint: int | None
    exported: int


def chain_maintain(*, force_checkpoint: bool = False, store: ObjectStore | None = None) -> SealRun:
    """One ``audit.seal`` run: seal, keep a checkpoint when due, export heads."""
    sealed = chain_seal()
    checkpoint = checkpoint_create(force=force_checkpoint)
    exported = checkpoints_export(store=store)
    return SealRun(sealed=sealed, checkpoint=checkpoint.seq if checkpoint else None, exported=exported)
