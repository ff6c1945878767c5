"""Reads for the console and the CLI (administrators only; the callers check)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from portal.imports.models import ImportItem, ImportJob, ImportRun, Outcome, RunState


def jobs_list():
    return (ImportJob.objects.select_related("space", "created_by")
            .annotate(last_run=Max("runs__id")).order_by("-id"))


def job_runs(job: ImportJob, limit: int = 10):
    return list(job.runs.select_related("started_by").order_by("-id")[:limit])


def run_unfinished(job: ImportJob) -> ImportRun | None:
    return job.runs.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).order_by("-id").first()


def run_is_stalled(run: ImportRun) -> bool:
    """Queued or running, without a heartbeat for IMPORT_STALE_SECONDS (its worker died or never came)."""
    stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    if run.state == RunState.QUEUED:
        return run.created_at < stale
    return run.state == RunState.RUNNING and (run.heartbeat_at is None or run.heartbeat_at < stale)


def runs_stalled() -> list[int]:
    stale = timezone.now() - timedelta(seconds=settings.IMPORT_STALE_SECONDS)
    return list(ImportRun.objects.filter(
        Q(state=RunState.QUEUED, created_at__lt=stale)
        | Q(state=RunState.RUNNING, heartbeat_at__lt=stale) | Q(state=RunState.RUNNING, heartbeat_at__isnull=True))
        .values_list("id", flat=True))


def jobs_due() -> list[int]:
    """Periodic jobs with no unfinished run whose last real run started at least every_hours ago."""
    now, due = timezone.now(), []
    jobs = (ImportJob.objects.filter(every_hours__isnull=False)
            .exclude(runs__state__in=[RunState.QUEUED, RunState.RUNNING])
            .annotate(last=Max("runs__created_at", filter=Q(runs__dry_run=False))))
    for job in jobs:
        if job.last is None or job.last <= now - timedelta(hours=job.every_hours):
            due.append(job.pk)
    return due


def rate_and_eta(run: ImportRun) -> tuple[float | None, float | None]:
    """(bytes per second so far, seconds left) of a run, None when unknown."""
    if not run.started_at or not run.bytes_copied:
        return None, None
    elapsed = ((run.finished_at or run.heartbeat_at or timezone.now()) - run.started_at).total_seconds()
    if elapsed <= 0:
        return None, None
    rate = run.bytes_copied / elapsed
    return rate, (run.bytes_pending / rate if run.state == RunState.RUNNING else None)


def run_errors(run: ImportRun, limit: int = 200):
    return list(ImportItem.objects.filter(run=run, outcome=Outcome.FAILED).order_by("path")[:limit])


def run_items(run: ImportRun):
    return (ImportItem.objects.filter(run=run).order_by("path")
            .values_list("path", "outcome", "size", "mtime", "error").iterator(chunk_size=2000))
