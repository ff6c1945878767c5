"""Executing an import run: claim it, list the source into items, copy the
pending items (from the first listed batch on, while the listing goes on),
finish with a report event.

Copying: a pool of threads streams each file from the source into the store
(computing its SHA-256 on the way); one committer thread makes up to
COMMIT_BATCH arrived files versions in one transaction (files_put_many),
which also turns their items ``copied`` (with the version). A worker killed
anywhere leaves each item either copied (with exactly one version) or
pending (and no version; its object, if it got that far, is removed by the
orphan sweep); the run's heartbeat stops, and whoever resumes it (the beat
task, ``manage.py import_run``, a redelivered task) copies only the pending
ones. Two workers on one run cannot both copy an item: the commit locks the
items and takes only those still *pending*.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Case, Count, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome as AuditOutcome
from portal.audit.services import record
from portal.core.access import Cap, is_admin
from portal.core.bulk import rows_insert, rows_update
from portal.core.errors import Forbidden, PortalError, StorageUnavailable
from portal.files import names
from portal.files.models import Node
from portal.files.services.batch import BatchResult, StoredFile, files_put_many
from portal.imports.models import ImportItem, ImportJob, ImportRun, Mode, Outcome, RunState
from portal.imports.secrets import unseal
from portal.imports.sources import Entry, Source, source_for
from portal.spaces.selectors import space_access
from portal.imports.transfer import Down, Failed, Transfers, forget

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 2.0
LIST_BATCH = 1000
POLL_SECONDS = 1.0


class Superseded(Exception):
    """Another worker took the run over (this one was thought dead)."""


@dataclass
class Context:
    run: ImportRun
    job: ImportJob
    source: Source
    progress: object = None  # called with the run after each heartbeat (the CLI's progress bars)
    down: list = field(default_factory=list)  # why Coffer's store stopped answering: the run stops
    fatal: list = field(default_factory=list)  # what stopped the committer (no right to write, say): the run stops


def job_source(job: ImportJob) -> Source:
    return source_for(job.source_kind, job.source, unseal(job.secret_sealed), concurrency=job.concurrency)


def target_path(job: ImportJob, relative: str) -> str:
    return job.target.rstrip("/") + "/" + relative


# --- claiming --------------------------------------------------------------------------
def _claim(run_id: int) -> ImportRun | None:
    """The run, now ours (attempt bumped), or None when it is done or another
    worker's heartbeat is still fresh."""
    with transaction.atomic():
        run = ImportRun.objects.select_for_update().select_related("job", "job__created_by").filter(pk=run_id).first()
        if run is None or run.done:
            return None
        stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
        if run.state == RunState.RUNNING and run.heartbeat_at and run.heartbeat_at > stale:
            return None
        run.state, run.attempt, run.heartbeat_at = RunState.RUNNING, run.attempt + 1, timezone.now()
        run.started_at = run.started_at or run.heartbeat_at
        run.save(update_fields=["state", "attempt", "heartbeat_at", "started_at"])
        return run


def run_execute(run_id: int, *, progress=None) -> ImportRun | None:
    """Run (or resume) ``run_id`` to its end in this process. Safe to call
    twice: a finished run, or one another worker is alive on, is left alone
    (None)."""
    run = _claim(run_id)
    if run is None:
        return None
    job = run.job
    try:
        actor = job.created_by
        creator_may_import(job)
        space_access(actor, job.space_id, Cap.FILE_WRITE)  # refused: the run fails saying why
        context = Context(run=run, job=job, source=job_source(job), progress=progress)
        if run.dry_run:
            if not run.listed:
                _list(context)
        else:
            _transfer(context)  # also lists the source first, when it was not (fully) listed yet
            _refuse_leftovers(run)
        return _finish(run)
    except Superseded:
        return None
    except Exception as exc:  # the top of a run: whatever stopped it is its failure, reported
        logger.exception("import run %s failed", run.pk)
        return _fail(run, exc)


def creator_may_import(job: ImportJob) -> None:
    """Imports read what only administrators may choose (folders on the
    server, any S3 or WebDAV source): a job runs, file after file, only while
    its creator is still an active administrator."""
    creator = type(job.created_by).objects.filter(pk=job.created_by_id).first()
    if not is_admin(creator):
        raise Forbidden(gettext("%(user)s, who created this import, is no longer an active administrator; an "
                                "administrator must create it again.") % {"user": job.created_by},
                        code="import_creator_not_admin")


# --- counters and heartbeat ------------------------------------------------------------
def _counters(run: ImportRun) -> dict:
    def files(outcome):
        return Count("id", filter=Q(outcome=outcome))

    def size(outcome):
        return Sum("size", filter=Q(outcome=outcome), default=0)

    totals = ImportItem.objects.filter(run=run).aggregate(
        files_seen=Count("id"), bytes_seen=Sum("size", default=0), files_skipped=files(Outcome.SKIPPED),
        files_copied=files(Outcome.COPIED) + files(Outcome.WOULD_COPY),
        bytes_copied=size(Outcome.COPIED) + size(Outcome.WOULD_COPY),
        files_failed=files(Outcome.FAILED), files_pending=files(Outcome.PENDING), bytes_pending=size(Outcome.PENDING))
    return totals


def heartbeat(context: Context, **extra) -> None:
    """Refresh the counters and the heartbeat; Superseded if another worker took over."""
    run = context.run
    fields = {**_counters(run), **extra, "heartbeat_at": timezone.now()}
    if not ImportRun.objects.filter(pk=run.pk, attempt=run.attempt, state=RunState.RUNNING).update(**fields):
        raise Superseded()
    for name, value in fields.items():
        setattr(run, name, value)
    if context.progress is not None:
        context.progress(run)


# --- listing ---------------------------------------------------------------------------
def _previous(job: ImportJob) -> dict[str, tuple]:
    """path -> (size, mtime, etag, version id) of each path's last successful
    item, from the runs since the job's last finished real run."""
    last = (ImportRun.objects.filter(job=job, dry_run=False, state=RunState.FINISHED)
            .order_by("-id").values_list("id", flat=True).first())
    if last is None:
        return {}
    found = {}
    rows = (ImportItem.objects.filter(run__job=job, run__dry_run=False, run_id__gte=last,
                                      outcome__in=[Outcome.COPIED, Outcome.SKIPPED])
            .order_by("id").values_list("path", "size", "mtime", "etag", "version_id"))
    for path, size, mtime, etag, version_id in rows.iterator(chunk_size=5000):
        found[path] = (size, mtime, etag, version_id)
    return found


def _unchanged(entry: Entry, before: tuple | None) -> bool:
    if before is None or before[3] is None or before[0] != entry.size:
        return False
    if entry.etag and before[2]:
        return entry.etag == before[2]
    return entry.mtime is not None and before[1] == entry.mtime


def _name_problem(job: ImportJob, entry: Entry) -> str:
    try:
        names.split_path(target_path(job, entry.path))
    except PortalError as refused:
        return refused.message
    return ""


ITEM_FIELDS = ["run", "path", "size", "mtime", "etag", "outcome", "error", "version"]


def _item(context: Context, entry: Entry, previous: dict, current: set) -> tuple:
    """The item's row (ITEM_FIELDS) for a listed entry."""
    outcome, error, version_id = Outcome.PENDING, "", None
    before = previous.get(entry.path)
    if entry.error:
        outcome, error = Outcome.FAILED, entry.error
    elif _unchanged(entry, before) and before[3] in current:
        outcome, version_id = Outcome.SKIPPED, before[3]
    elif context.run.dry_run:
        problem = _name_problem(context.job, entry)
        outcome, error = (Outcome.FAILED, problem) if problem else (Outcome.WOULD_COPY, "")
    return (context.run.pk, entry.path, entry.size, entry.mtime, entry.etag, outcome, error, version_id)


def _store_batch(context: Context, batch: list[Entry], previous: dict) -> None:
    # Unchanged files count only while Coffer still has the version the import made (not deleted or edited since).
    candidates = [previous[e.path][3] for e in batch if _unchanged(e, previous.get(e.path))]
    current = set(Node.objects.filter(current_version_id__any=candidates, trashed_at__isnull=True)
                  .values_list("current_version_id", flat=True)) if candidates else set()
    rows = [_item(context, entry, previous, current) for entry in batch]
    rows_insert(ImportItem, ITEM_FIELDS, rows, ignore_conflicts=True)  # a resumed listing keeps what is done


def _list(context: Context, stored: threading.Event | None = None, stop: threading.Event | None = None) -> None:
    """Items for every file of the source (``stored`` is set after each batch), until ``stop``."""
    job = context.job
    previous = _previous(job) if job.mode == Mode.INCREMENTAL else {}
    beat = time.monotonic()
    for batch in _read_ahead(context.source.entries()):
        if stop is not None and stop.is_set():
            return
        _store_batch(context, batch, previous)
        if stored is not None:
            stored.set()
        if time.monotonic() - beat > HEARTBEAT_SECONDS:
            heartbeat(context)
            beat = time.monotonic()
    heartbeat(context, listed=True)


_LISTED = object()  # the end of a listing


def _read_ahead(entries) -> Iterator[list[Entry]]:
    """``entries`` in lists of up to LIST_BATCH, the next one read by a thread while the caller stores
    this one (the source's answer and the database's overlap: a quarter of an incremental run's time).
    What the listing raises is raised here; leaving early stops the thread."""
    ready, left = queue.Queue(maxsize=1), threading.Event()

    def hand_over(value) -> bool:
        while not left.is_set():
            try:
                ready.put(value, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        batch = []
        try:
            for entry in entries:
                batch.append(entry)
                if len(batch) >= LIST_BATCH:
                    if not hand_over(batch):
                        return
                    batch = []
            if batch and not hand_over(batch):
                return
            hand_over(_LISTED)
        except BaseException as exc:  # the caller's failure: raised there
            hand_over(exc)

    threading.Thread(target=read, daemon=True, name="import-list-ahead").start()
    try:
        while (value := ready.get()) is not _LISTED:
            if isinstance(value, BaseException):
                raise value
            yield value
    finally:
        left.set()


class _Lister(threading.Thread):
    """The listing in its own thread, so that the transfers copy what it has stored while it goes on
    (a bucket of 20,000 objects takes seconds to list). What stops it stops the run."""

    def __init__(self, context: Context, stop: threading.Event):
        super().__init__(daemon=True, name=f"import-{context.run.pk}-list")
        self.context, self.stop, self.stored, self.over = context, stop, threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            _list(self.context, self.stored, self.stop)
        except BaseException as exc:  # the run stops: the transfers too
            self.context.fatal.append(exc)
            self.stop.set()
        finally:
            self.over.set()
            self.stored.set()  # wakes the copying side, which sees it is over
            connections.close_all()


# --- copying ---------------------------------------------------------------------------
# Transfer threads (portal.imports.transfer) move each pending file from the source into the
# store; one committer thread makes up to COMMIT_BATCH of them versions per transaction.
COMMIT_BATCH = 200
COMMIT_SECONDS = 1.0


def _commit(context: Context, arrived: list[StoredFile], failed: list[Failed] = ()) -> None:
    """One transaction: the files whose items are still pending become versions and their
    items copied (with the version), refused ones failed; no other worker can copy them twice."""
    job, run, unused = context.job, context.run, []
    try:
        with transaction.atomic():
            creator_may_import(job)
            pending = set(ImportItem.objects.select_for_update().filter(
                pk__in=[stored.tag for stored in arrived], outcome=Outcome.PENDING).values_list("pk", flat=True))
            todo = [stored for stored in arrived if stored.tag in pending]
            unused = [stored.key for stored in arrived if stored.tag not in pending]
            result = files_put_many(actor=job.created_by, space_id=job.space_id, files=todo,
                                    details={"import_run": run.pk}) if todo else BatchResult()
            items = [ImportItem(pk=tag, outcome=Outcome.COPIED, version=version, error="")
                     for tag, version in result.made.items()]
            rows_update(items, ["outcome", "version"])
            _mark_failed({**{tag: refused.message for tag, refused in result.refused.items()},
                          **{failure.tag: failure.message for failure in failed}})
            unused += result.keys_to_remove(todo)
    except BaseException:
        forget([stored.key for stored in arrived])
        raise
    forget(unused)


def _commit_each(context: Context, arrived: list[StoredFile]) -> None:
    """A batch that failed as a whole for no reason of its own (a name made by someone else a
    moment ago): each file alone, so one file's trouble is that file's."""
    for stored in arrived:
        try:
            _commit(context, [stored])
        except PortalError:
            raise
        except Exception as exc:  # noqa: BLE001 - this file's failure, reported on it
            logger.warning("import run %s: %s failed: %r", context.run.pk, stored.path, exc)
            _mark_failed({stored.tag: f"{type(exc).__name__}: {exc}"})


def _next_batch(results) -> tuple[list[StoredFile], list[Failed], list[Down], bool]:
    """What arrived within COMMIT_SECONDS of the first result, up to COMMIT_BATCH files:
    (files, failures, store outages, whether the results ended)."""
    arrived, failed, down = [], [], []
    first = results.get()
    deadline = time.monotonic() + COMMIT_SECONDS
    result = first
    while True:
        if result is None:
            return arrived, failed, down, True
        {StoredFile: arrived, Failed: failed, Down: down}[type(result)].append(result)
        if len(arrived) >= COMMIT_BATCH:
            return arrived, failed, down, False
        try:
            result = results.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return arrived, failed, down, False


def _committer(context: Context, results, stop: threading.Event) -> None:
    ended = False
    try:
        while not ended:
            arrived, failed, down, ended = _next_batch(results)
            if down:
                context.down.append(down[0].message)
                stop.set()
            if not arrived and not failed:
                continue
            try:
                _commit(context, arrived, failed)
            except PortalError:
                raise
            except Exception:  # noqa: BLE001 - retried file by file, each failure on its file
                logger.warning("import run %s: a batch of %s failed; committing its files one by one",
                               context.run.pk, len(arrived), exc_info=True)
                _mark_failed({failure.tag: failure.message for failure in failed})
                _commit_each(context, arrived)
    except BaseException as exc:  # the run stops: the transfers too
        context.fatal.append(exc)
        stop.set()
        while not ended:  # what still arrives is never a version: its objects go, its items stay pending
            arrived, _, _, ended = _next_batch(results)
            forget([stored.key for stored in arrived])
    finally:
        connections.close_all()


def _mark_failed(messages: dict[int, str]) -> None:
    """Items (id -> why) that are still pending become failed, saying why."""
    if messages:
        ImportItem.objects.filter(pk__in=list(messages), outcome=Outcome.PENDING).update(
            outcome=Outcome.FAILED, error=Case(*[When(pk=pk, then=Value(message[:2000]))
                                                 for pk, message in messages.items()]))


def _pending(run: ImportRun, lister: _Lister | None = None):
    """The pending items in the order they were listed; with a ``lister`` still at work, also
    those it stores meanwhile, until it is over."""
    last = 0
    while True:
        if lister is not None:
            lister.stored.clear()  # before looking: a batch stored from now on wakes the wait below
        over = lister is None or lister.over.is_set()  # before the query: then nothing is stored after it
        chunk = list(ImportItem.objects.filter(run=run, outcome=Outcome.PENDING, id__gt=last)
                     .order_by("id").values_list("id", "path", "size", "mtime")[:LIST_BATCH])
        if chunk:
            yield from chunk
            last = chunk[-1][0]
        elif over:
            return
        else:
            lister.stored.wait(POLL_SECONDS)


def _stopped(context: Context) -> None:
    if context.fatal:
        raise context.fatal[0]
    if context.down:
        raise StorageUnavailable(gettext("The import stopped: %(error)s Start it again once the storage answers.")
                                 % {"error": context.down[0]})


def _transfer(context: Context) -> None:
    job, run = context.job, context.run
    stop = threading.Event()
    transfers = Transfers(source=context.source, target_of=lambda path: target_path(job, path),
                          threads=max(1, min(job.concurrency, settings.IMPORT_MAX_CONCURRENCY)),
                          processes=settings.IMPORT_PROCESSES, bytes_per_second=job.bytes_per_second, stop=stop)
    transfers.start()  # first: forked processes copy no thread
    committer = threading.Thread(target=_committer, args=(context, transfers.results, stop), daemon=True,
                                 name=f"import-{run.pk}-commit")
    committer.start()
    lister = None if run.listed else _Lister(context, stop)
    if lister is not None:
        lister.start()
    beat = time.monotonic()
    try:
        for item in _pending(run, lister):
            while True:
                _stopped(context)
                try:
                    transfers.put(item, timeout=HEARTBEAT_SECONDS)
                    break
                except queue.Full:
                    if not transfers.alive():
                        raise RuntimeError("every transfer thread stopped") from None
                finally:
                    if time.monotonic() - beat > HEARTBEAT_SECONDS:
                        heartbeat(context)
                        beat = time.monotonic()
    except BaseException:
        stop.set()
        raise
    finally:
        if lister is not None:
            _wait(context, lister, stop)
        transfers.finish(lambda runner: _wait(context, runner, stop))
        _wait(context, committer, stop)
    _stopped(context)


def _wait(context: Context, runner, stop: threading.Event) -> None:
    """Join a thread or process, keeping the run's heartbeat alive meanwhile."""
    while runner.is_alive():
        runner.join(HEARTBEAT_SECONDS)
        if runner.is_alive() and not stop.is_set():
            try:
                heartbeat(context)
            except Superseded:
                stop.set()


# --- the end ---------------------------------------------------------------------------
def _refuse_leftovers(run: ImportRun) -> None:
    """Files still pending after every thread ended (a thread died on a database error): the run
    fails saying so; the job's next run copies them (the copied ones are unchanged by then)."""
    left = ImportItem.objects.filter(run=run, outcome=Outcome.PENDING).count()
    if left:
        raise PortalError(gettext("%(count)s files could not be tried; run the job again to copy them.")
                          % {"count": left}, code="import_incomplete")


def _finish(run: ImportRun) -> ImportRun:
    with transaction.atomic():
        totals = _counters(run)
        updated = ImportRun.objects.filter(pk=run.pk, attempt=run.attempt, state=RunState.RUNNING).update(
            **totals, state=RunState.FINISHED, finished_at=timezone.now(), heartbeat_at=timezone.now())
        if not updated:
            raise Superseded()
        run.refresh_from_db()
        record(action=Action.IMPORT_FINISHED, actor=None, target=run.job, target_label=str(run.job),
               space=run.job.space, details=_report(run))
    return run


def _report(run: ImportRun) -> dict:
    return {"run": run.pk, "dry_run": run.dry_run, "files_seen": run.files_seen, "bytes_seen": run.bytes_seen,
            "files_copied": run.files_copied, "bytes_copied": run.bytes_copied,
            "files_skipped": run.files_skipped, "files_failed": run.files_failed,
            "files_pending": run.files_pending}


def _fail(run: ImportRun, exc: BaseException) -> ImportRun:
    message = exc.message if isinstance(exc, PortalError) else f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        totals = _counters(run)
        updated = ImportRun.objects.filter(pk=run.pk, attempt=run.attempt).update(
            **totals, state=RunState.FAILED, error=message[:4000], finished_at=timezone.now())
        run.refresh_from_db()
        if updated:
            record(action=Action.IMPORT_FAILED, actor=None, target=run.job, target_label=str(run.job),
                   space=run.job.space, outcome=AuditOutcome.FAILURE, details={**_report(run), "error": message[:500]})
    return run

