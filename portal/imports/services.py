"""Import jobs and runs: every change here is an administrator's (or the
schedule's), audited in its transaction. The copying itself is runner.py."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap, is_admin
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.files import names
from portal.imports import secrets
from portal.imports.models import ImportJob, ImportRun, Mode, RunState, SourceKind
from portal.imports.sources import source_for
from portal.spaces.selectors import space_access
from portal.outbox.services import enqueue

# The settings each source kind keeps (its secret is sealed apart).
SOURCE_FIELDS = {SourceKind.S3: ("endpoint", "bucket", "prefix", "region", "access_key"),
                 SourceKind.FOLDER: ("path",), SourceKind.WEBDAV: ("url", "username")}


def _refuse_non_admin(actor) -> None:
    if not is_admin(actor):
        raise NotFound(gettext("No such page."))


def _number(value, *, field: str, low: int, high: int, optional: bool = True) -> int | None:
    if value in (None, "", 0, "0") and optional:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(gettext("%(field)s must be a whole number.") % {"field": field}, code="invalid_number") from None
    if not low <= number <= high:
        raise InvalidInput(gettext("%(field)s must be between %(low)s and %(high)s.")
                           % {"field": field, "low": low, "high": high}, code="invalid_number")
    return number


def _writer(actor, space_id):
    try:
        return space_access(actor, space_id, Cap.FILE_WRITE).space
    except Forbidden:
        raise Forbidden(gettext("You need to be an editor of this space to import into it; add yourself as a "
                                "member first (imports write as the administrator who creates them)."),
                        code="import_not_writer") from None


def _clean(*, source_kind, source: dict, target: str, mode: str, every_hours, bytes_per_second, concurrency) -> dict:
    if source_kind not in SourceKind.values:
        raise InvalidInput(gettext("Choose a source: s3, folder or webdav."), code="invalid_source")
    if mode not in Mode.values:
        raise InvalidInput(gettext("The mode is full or incremental."), code="invalid_mode")
    target = names.join(names.split_path(target or "/"))
    return {"source_kind": source_kind, "target": target, "mode": mode,
            "source": {key: str(source.get(key) or "").strip() for key in SOURCE_FIELDS[source_kind]},
            "every_hours": _number(every_hours, field=gettext("The interval in hours"), low=1, high=24 * 366),
            "bytes_per_second": _number(bytes_per_second, field=gettext("The bandwidth limit"), low=1024,
                                        high=100 * 1024**3),
            "concurrency": _number(concurrency or 4, field=gettext("The number of parallel transfers"), low=1,
                                   high=settings.IMPORT_MAX_CONCURRENCY, optional=False)}


def import_job_create(*, actor, space_id, target: str = "/", source_kind: str, source: dict, secret: str = "",
                      mode: str = Mode.INCREMENTAL, every_hours=None, bytes_per_second=None, concurrency=4,
                      name: str = "") -> ImportJob:
    """Administrators who may write the space create an import job. The
    source is checked (listed) before anything is saved; its secret is sealed
    and never shown again."""
    _refuse_non_admin(actor)
    fields = _clean(source_kind=source_kind, source=source or {}, target=target, mode=mode, every_hours=every_hours,
                    bytes_per_second=bytes_per_second, concurrency=concurrency)
    _writer(actor, space_id)
    source_for(fields["source_kind"], fields["source"], secret, concurrency=fields["concurrency"]).check()
    with transaction.atomic():
        space = _writer(actor, space_id)
        job = ImportJob.objects.create(space=space, created_by=actor, name=(name or "").strip()[:200],
                                       secret_sealed=secrets.seal(secret or ""), **fields)
        record(action=Action.IMPORT_JOB_CREATED, actor=actor, target=job, target_label=str(job), space=space,
               details={"source": job.source_kind, "from": job.source_label, "to": job.target, "mode": job.mode,
                        "every_hours": job.every_hours})
    return job


def _job(job_id, *, lock: bool = False) -> ImportJob:
    jobs = ImportJob.objects.select_for_update() if lock else ImportJob.objects
    job = jobs.filter(pk=job_id).first() if str(job_id).isdigit() else None
    if job is None:
        raise NotFound(gettext("No such import job."))
    return job


@transaction.atomic
def import_job_delete(*, actor, job_id) -> None:
    """Administrators delete a job and its reports (the files it imported stay)."""
    _refuse_non_admin(actor)
    job = _job(job_id, lock=True)
    if job.runs.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).exists():
        raise Conflict(gettext("The job is running; wait for it to end."), code="import_running")
    record(action=Action.IMPORT_JOB_DELETED, actor=actor, target=job, target_label=str(job), space=job.space,
           details={"from": job.source_label, "to": job.target})
    job.delete()


@transaction.atomic
def import_run_start(*, actor, job_id, dry_run: bool = False, queue: bool = True) -> ImportRun:
    """Administrators (or, with ``actor`` None, the schedule) start a run of
    a job: queued for a worker (``queue=False``: the caller runs it, as
    ``manage.py import_run`` does). One run of a job at a time."""
    if actor is not None:
        _refuse_non_admin(actor)
    job = _job(job_id, lock=True)
    busy = job.runs.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).first()
    if busy is not None:
        raise Conflict(gettext("Run %(run)s of this job has not ended yet.") % {"run": busy.pk}, code="import_running",
                       detail={"run": busy.pk})
    run = ImportRun.objects.create(job=job, dry_run=bool(dry_run), started_by=actor)
    record(action=Action.IMPORT_STARTED, actor=actor, target=job, target_label=str(job), space=job.space,
           details={"run": run.pk, "dry_run": run.dry_run, "mode": job.mode, "from": job.source_label,
                    "to": job.target})
    if queue:
        from portal.imports.tasks import run_import

        enqueue(run_import, run.pk)
    return run
