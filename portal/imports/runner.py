"""Executing an import run: claim it, list the source into items, copy the
pending items with a pool of threads, finish with a report event.

Crash order: an item becomes ``copied`` inside file_put's transaction (the
``before_commit`` hook), together with the version and the file's
modification time. A worker killed anywhere leaves each item either copied
(with exactly one version) or pending (and no version); the run's heartbeat
stops, and whoever resumes it (the beat task, ``manage.py import_run``, a
redelivered task) copies only the pending ones. Two workers on one run cannot
both copy an item: the hook only turns a *pending* item copied, and refuses
(rolling the version back) otherwise.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.models import Outcome as AuditOutcome
from portal.audit.services import record
from portal.core.access import Cap, is_admin
from portal.core.errors import Forbidden, PortalError, StorageUnavailable
from portal.files import names
from portal.files.models import Node
from portal.files.services.direct import file_put
from portal.imports.limits import TokenBucket, limited
from portal.imports.models import ImportItem, ImportJob, ImportRun, Mode, Outcome, RunState
from portal.imports.secrets import unseal
from portal.imports.sources import Entry, Source, source_for
from portal.spaces.selectors import space_access

logger = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 2.0
LIST_BATCH = 1000


class Superseded(Exception):
    """Another worker took the run over (this one was thought dead)."""


class _AlreadyDone(Exception):
    """The item is no longer pending: roll this copy back."""


@dataclass
class Context:
    run: ImportRun
    job: ImportJob
    source: Source
    progress: object = None  # called with the run after each heartbeat (the CLI's progress bars)
    down: list = field(default_factory=list)  # why Coffer's store stopped answering: the run stops


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
        if not run.listed:
            _list(context)
        if not run.dry_run:
            _transfer(context)
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


def _item(context: Context, entry: Entry, previous: dict, current: set) -> ImportItem:
    item = ImportItem(run=context.run, path=entry.path, size=entry.size, mtime=entry.mtime, etag=entry.etag)
    before = previous.get(entry.path)
    if entry.error:
        item.outcome, item.error = Outcome.FAILED, entry.error
    elif _unchanged(entry, before) and before[3] in current:
        item.outcome, item.version_id = Outcome.SKIPPED, before[3]
    elif context.run.dry_run:
        problem = _name_problem(context.job, entry)
        item.outcome, item.error = (Outcome.FAILED, problem) if problem else (Outcome.WOULD_COPY, "")
    return item


def _store_batch(context: Context, batch: list[Entry], previous: dict) -> None:
    # Unchanged files count only while Coffer still has the version the import made (not deleted or edited since).
    candidates = [previous[e.path][3] for e in batch if _unchanged(e, previous.get(e.path))]
    current = set(Node.objects.filter(current_version_id__in=candidates, trashed_at__isnull=True)
                  .values_list("current_version_id", flat=True)) if candidates else set()
    items = [_item(context, entry, previous, current) for entry in batch]
    ImportItem.objects.bulk_create(items, ignore_conflicts=True)  # a resumed listing keeps what is done


def _list(context: Context) -> None:
    job = context.job
    previous = _previous(job) if job.mode == Mode.INCREMENTAL else {}
    batch, beat = [], time.monotonic()
    for entry in context.source.entries():
        batch.append(entry)
        if len(batch) >= LIST_BATCH:
            _store_batch(context, batch, previous)
            batch = []
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                heartbeat(context)
                beat = time.monotonic()
    if batch:
        _store_batch(context, batch, previous)
    heartbeat(context, listed=True)


# --- copying ---------------------------------------------------------------------------
def _copy_one(context: Context, item: tuple, bucket: TokenBucket | None) -> None:
    item_id, path, size, mtime = item
    job = context.job

    def mark_copied(version):
        if not ImportItem.objects.filter(pk=item_id, outcome=Outcome.PENDING).update(
                outcome=Outcome.COPIED, version=version):
            raise _AlreadyDone()
        if mtime is not None:  # the source's modification time, in the transaction that made the version
            Node.objects.filter(pk=version.node_id).update(modified_at=mtime)

    try:
        creator_may_import(job)
        with context.source.open(path) as stream:
            # One byte past the listed size is enough to refuse the file: a source sending gigabytes
            # more than it listed does not get them written to the store first.
            file_put(actor=job.created_by, space_id=job.space_id, path=target_path(job, path), size=size,
                     fileobj=limited(stream, bucket, most=size + 1), details={"import_run": context.run.pk},
                     before_commit=mark_copied)
    except _AlreadyDone:
        return
    except StorageUnavailable as down:  # not this file's fault: it stays pending, and the run stops
        context.down.append(down.message)
    except PortalError as refused:
        _mark_failed(item_id, refused.message)
    except Exception as exc:  # one file's failure (the source, the network) is that file's, reported
        logger.warning("import run %s: %s failed: %r", context.run.pk, path, exc)
        _mark_failed(item_id, f"{type(exc).__name__}: {exc}")


def _mark_failed(item_id: int, message: str) -> None:
    ImportItem.objects.filter(pk=item_id, outcome=Outcome.PENDING).update(outcome=Outcome.FAILED,
                                                                         error=message[:2000])


def _worker(context: Context, work: queue.Queue, bucket: TokenBucket | None, stop: threading.Event) -> None:
    try:
        while not stop.is_set() and not context.down:
            item = work.get()
            if item is None:
                return
            _copy_one(context, item, bucket)
    finally:
        connections.close_all()  # this thread's database connection


def _pending(run: ImportRun):
    last = 0
    while True:
        chunk = list(ImportItem.objects.filter(run=run, outcome=Outcome.PENDING, id__gt=last)
                     .order_by("id").values_list("id", "path", "size", "mtime")[:LIST_BATCH])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1][0]


def _transfer(context: Context) -> None:
    job = context.job
    count = max(1, min(job.concurrency, settings.IMPORT_MAX_CONCURRENCY))
    bucket = TokenBucket(job.bytes_per_second) if job.bytes_per_second else None
    work: queue.Queue = queue.Queue(maxsize=count * 4)
    stop = threading.Event()
    threads = [threading.Thread(target=_worker, args=(context, work, bucket, stop), daemon=True,
                                name=f"import-{context.run.pk}-{n}") for n in range(count)]
    for thread in threads:
        thread.start()
    beat = time.monotonic()
    try:
        for item in _pending(context.run):
            while True:
                if context.down:
                    raise StorageUnavailable(gettext("The import stopped: %(error)s Start it again once the "
                                                     "storage answers.") % {"error": context.down[0]})
                try:
                    work.put(item, timeout=HEARTBEAT_SECONDS)
                    break
                except queue.Full:
                    if not context.down and not any(thread.is_alive() for thread in threads):
                        raise RuntimeError("every transfer thread stopped") from None
                finally:
                    if time.monotonic() - beat > HEARTBEAT_SECONDS:
                        heartbeat(context)
                        beat = time.monotonic()
    except BaseException:
        stop.set()
        raise
    finally:
        _end_workers(context, threads, work, stop)
    if context.down:
        raise StorageUnavailable(gettext("The import stopped: %(error)s Start it again once the storage answers.")
                                 % {"error": context.down[0]})


def _end_workers(context: Context, threads: list, work: queue.Queue, stop: threading.Event) -> None:
    if stop.is_set() or context.down:  # stopping early: what is still queued stays pending for the next attempt
        while not work.empty():
            work.get_nowait()
    for _ in threads:
        work.put(None)
    for thread in threads:
        while thread.is_alive():
            thread.join(HEARTBEAT_SECONDS)
            if thread.is_alive() and not stop.is_set():
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

