"""Verification of the audit chain (``python manage.py audit_verify``).

One pass over the sealed events in seq order (a server-side cursor, only the
needed columns), checking for every event:

- **deleted**: seq has no gap (and the table starts at seq 1, or right after
  a retention checkpoint whose ``audit.purged`` event is in the chain; and it
  does not end before the head, the newest checkpoint or exported head);
- **reordered**: its ``prev_hash`` is the hash of the event before it (an
  event moved, or one deleted and the rest renumbered, breaks this link);
- **altered**: its hash is the HMAC of its content and ``prev_hash``;
- at checkpoint positions, the hash equals the checkpoint's, and at the
  positions of exported heads (the newest ``heads`` objects under
  ``audit/heads/`` in the object store) the exported hash: a table rewritten
  with freshly computed hashes (the key leaked, or plain SHA-256) does not
  end in the heads exported before the rewrite.

Events still unsealed PORTAL_AUDIT_SEAL_GRACE_SECONDS after they were written
are a failure too (the sealer is not running). Problems come back sorted by
position; the first is the earliest event that is wrong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.chain import (
    CONTENT_FIELDS,
    GENESIS,
    HEADS_PREFIX,
    PG_CONTENT,
    chain_key,
    event_hash,
    key_id,
)
from portal.audit.models import AuditEvent, ChainCheckpoint, ChainState
from portal.core.errors import InvalidInput, PortalError
from portal.storage import ObjectStore, get_store

CHUNK = 20_000
DEFAULT_HEADS = 10
MAX_PROBLEMS = 20
_ACTION = 3 + CONTENT_FIELDS.index("action")
_DETAILS = 3 + CONTENT_FIELDS.index("details")


@dataclass
class Problem:
    kind: str  # altered, deleted, reordered, rewritten, unsealed, key, heads
    message: str
    seq: int | None = None
    event_id: int | None = None


@dataclass
class Report:
    events: int = 0
    start_seq: int = 0
    last_seq: int = 0
    checkpoints_checked: int = 0
    heads_checked: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok, **asdict(self)}


@dataclass
class _Expected:
    """Hashes the chain must have at some positions: seq -> [(where from, hash)]."""
    by_seq: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, seq: int, source: str, digest: str) -> None:
        self.by_seq.setdefault(seq, []).append((source, digest))


def chain_verify(*, from_checkpoint: int | str | None = None, heads: int | None = DEFAULT_HEADS,
                 store: ObjectStore | None = None, max_problems: int = MAX_PROBLEMS) -> Report:
    """Check the whole chain (or from a checkpoint: its seq, or "latest").
    ``heads``: how many of the newest exported heads to read (None: all,
    0: none). Raises InvalidInput for an unknown checkpoint."""
    started = time.perf_counter()
    report = Report()
    key = chain_key()
    state = ChainState.objects.filter(pk=1).first()
    if state and state.key_id and state.key_id != key_id(key):
        report.problems.append(Problem("key", f"The chain was sealed with key {state.key_id}, but this portal's "
                                              f"key is {key_id(key)}: set PORTAL_MASTER_KEY (or "
                                              "PORTAL_AUDIT_CHAIN_KEY) to the key the chain was sealed with."))
        return _finish(report, started)
    checkpoints = list(ChainCheckpoint.objects.order_by("seq").values_list("seq", "hash", "exported_key"))
    expected = _Expected()
    for seq, digest, _ in checkpoints:
        expected.add(seq, f"checkpoint #{seq}", digest)
    listed = _read_heads(store, heads, expected, report) if heads != 0 else {}
    start_seq, start_hash, purge_anchor = _start(from_checkpoint, checkpoints, report)
    report.start_seq = report.last_seq = start_seq
    if start_hash is not None:
        _check_expected(expected, start_seq, start_hash, None, report)
    complete = _walk(key, start_seq, start_hash, purge_anchor, expected, report, max_problems)
    if complete:
        _check_tail(state, checkpoints, listed, report)
    _check_exported(checkpoints, listed, start_seq, heads, report)
    _check_unsealed(report)
    return _finish(report, started)


def _finish(report: Report, started: float) -> Report:
    report.problems.sort(key=lambda p: (p.seq is None, p.seq or 0))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _start(from_checkpoint, checkpoints, report) -> tuple[int, str | None, int | None]:
    """(seq before the first event to check, the hash there or None if unknown,
    the purge checkpoint whose audit.purged event must appear, if any)."""
    by_seq = {seq: digest for seq, digest, _ in checkpoints}
    if from_checkpoint is not None:
        if from_checkpoint == "latest":
            if not checkpoints:
                raise InvalidInput(gettext("There is no checkpoint yet; verify the whole chain."))
            seq = checkpoints[-1][0]
        else:
            seq = int(from_checkpoint)
            if seq not in by_seq:
                raise InvalidInput(gettext("There is no checkpoint at seq %(seq)s.") % {"seq": seq}, detail={"seq": seq})
        return seq, by_seq[seq], None
    first = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list("seq", flat=True).first()
    if first is None or first == 1:
        return 0, GENESIS, None
    if first - 1 in by_seq:
        return first - 1, by_seq[first - 1], first - 1
    report.problems.append(Problem("deleted", f"Events at seq 1..{first - 1} are missing and no checkpoint marks "
                                              f"a retention purge there.", seq=1))
    return first - 1, None, None


def _walk(key, start_seq, prev, purge_anchor, expected, report, max_problems) -> bool:
    """The pass over the events; False if it stopped at ``max_problems``."""
    problems = report.problems
    purge_seen = purge_anchor is None
    raw = connection.vendor == "postgresql"
    rows = _chain_rows(start_seq) if raw else (
        AuditEvent.objects.filter(seq__gt=start_seq).order_by("seq")
        .values_list("seq", "prev_hash", "chain_hash", *CONTENT_FIELDS).iterator(chunk_size=CHUNK))
    want, prev_id, count = start_seq + 1, None, 0
    checks = expected.by_seq
    for row in rows:
        seq, prev_hash, stored = row[0], row[1], row[2]
        count += 1
        if seq != want:
            problems.append(Problem("deleted", f"Events at seq {want}..{seq - 1} are missing (deleted); the next "
                                               f"is event #{row[3]} at seq {seq}.", seq=want, event_id=row[3]))
            prev = None
        if prev is not None and prev_hash != prev:
            after = f"event #{prev_id}" if prev_id else f"checkpoint #{start_seq}"
            problems.append(Problem("reordered", f"Event #{row[3]} at seq {seq} is not chained to {after} before "
                                                 "it: events were moved, or deleted and renumbered.",
                                    seq=seq, event_id=row[3]))
        if event_hash(key, row[3:], prev_hash, raw=raw) != stored:
            problems.append(Problem("altered", f"Event #{row[3]} at seq {seq} was altered: its content does not "
                                               "match its hash.", seq=seq, event_id=row[3]))
        if seq in checks:
            _check_expected(expected, seq, stored, row[3], report)
        if not purge_seen and row[_ACTION] == Action.AUDIT_PURGED:
            details = json.loads(row[_DETAILS]) if raw else row[_DETAILS]
            purge_seen = isinstance(details, dict) and details.get("through_seq") == purge_anchor
        prev, prev_id, want = stored, row[3], seq + 1
        if len(problems) >= max_problems:
            report.events += count
            report.last_seq = seq
            return False
    report.events += count
    report.last_seq = want - 1
    if not purge_seen:
        problems.append(Problem("deleted", f"The log starts after checkpoint #{purge_anchor}, but no audit.purged "
                                           "event records a retention purge there: earlier events were deleted.",
                                seq=purge_anchor))
    return True


def _chain_rows(start_seq: int) -> Iterator[tuple]:
    """Sealed events after ``start_seq`` in seq order, through a server-side
    cursor (CHUNK rows a round trip), content as ``PG_CONTENT`` reads it."""
    with transaction.atomic(), connection.connection.cursor(name="audit_verify") as cursor:
        cursor.itersize = CHUNK
        cursor.execute(f"SELECT seq, prev_hash, chain_hash, {PG_CONTENT} FROM {AuditEvent._meta.db_table} "
                       "WHERE seq > %s ORDER BY seq", [start_seq])
        yield from cursor


def _check_expected(expected: _Expected, seq: int, digest: str, event_id: int | None, report: Report) -> None:
    for source, want in expected.by_seq.get(seq, ()):
        if source.startswith("checkpoint"):
            report.checkpoints_checked += 1
        else:
            report.heads_checked += 1
        if want != digest:
            what = f"event #{event_id} at seq {seq}" if event_id else f"the chain at seq {seq}"
            report.problems.append(Problem("rewritten", f"The hash of {what} differs from {source}: the log up to "
                                                        f"seq {seq} was rewritten.", seq=seq, event_id=event_id))


def _read_heads(store, heads, expected, report) -> dict[int, str]:
    """List exported heads (seq -> key) and read the newest ``heads`` of them
    into ``expected``. A store that does not answer is a problem: without the
    heads, a rewrite of the whole table cannot be ruled out."""
    store = store or get_store()
    listed: dict[int, str] = {}
    try:
        for info in store.iter_objects(HEADS_PREFIX):
            name = info.key.rsplit("/", 1)[-1]
            if name.endswith(".json") and name[:-5].isdigit():
                listed[int(name[:-5])] = info.key
        for seq in sorted(listed)[-heads if heads else 0:]:
            with store.open(listed[seq]) as stream:
                document = json.loads(stream.read(64 * 1024))
            if document.get("seq") != seq or not isinstance(document.get("hash"), str):
                report.problems.append(Problem("rewritten", f"The exported head {listed[seq]} is not a head of "
                                                            f"seq {seq}.", seq=seq))
                continue
            expected.add(seq, f"the exported head {listed[seq]}", document["hash"])
    except (PortalError, ValueError) as exc:
        report.problems.append(Problem("heads", f"The exported chain heads could not be read ({exc}); check the "
                                                "object store, or verify with --no-heads."))
    return listed


def _check_tail(state, checkpoints, listed, report) -> None:
    claims = [("the chain head", state.head_seq if state else 0)]
    if checkpoints:
        claims.append((f"checkpoint #{checkpoints[-1][0]}", checkpoints[-1][0]))
    if listed:
        claims.append((f"the exported head {listed[max(listed)]}", max(listed)))
    source, seq = max(claims, key=lambda claim: claim[1])
    if seq > report.last_seq:
        report.problems.append(Problem("deleted", f"Events at seq {report.last_seq + 1}..{seq} are missing "
                                                  f"(deleted at the end): {source} is at seq {seq}.",
                                       seq=report.last_seq + 1))


def _check_exported(checkpoints, listed, start_seq, heads, report) -> None:
    """Checkpoints the database says were exported must still be in the store."""
    if heads == 0 or any(p.kind == "heads" for p in report.problems):
        return
    keys = set(listed.values())
    for seq, _, exported_key in checkpoints:
        if exported_key and seq >= start_seq and exported_key not in keys:
            report.problems.append(Problem("rewritten", f"The exported head {exported_key} of checkpoint #{seq} is "
                                                        "missing from the object store.", seq=seq))
            return


def _check_unsealed(report) -> None:
    limit = timezone.now() - timedelta(seconds=settings.AUDIT_SEAL_GRACE_SECONDS)
    stale = AuditEvent.objects.filter(seq__isnull=True, created_at__lt=limit)
    oldest = stale.order_by("id").values_list("id", "action", "created_at").first()
    if oldest:
        count = stale.count()
        report.problems.append(Problem(
            "unsealed", f"{count} event(s) are unsealed more than {settings.AUDIT_SEAL_GRACE_SECONDS} s after they "
                        f"were written (the oldest: #{oldest[0]} {oldest[1]} at {oldest[2].isoformat()}): is the "
                        "Celery worker with beat running the audit.seal task?", event_id=oldest[0]))
