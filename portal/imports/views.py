"""Console pages for imports (/manage/imports/): the jobs, a new job's form,
a job's page with its running run's progress, per-file errors, and each
run's report as CSV. Administrators only; anyone else gets the 404 page."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from portal.adminpanel.console import forms
from portal.adminpanel.console.access import console_page
from portal.core.access import Cap, caps_of
from portal.core.errors import NotFound
from portal.imports import selectors, services
from portal.imports.models import ImportJob, ImportRun, Mode, SourceKind
from portal.spaces.models import Space
from portal.spaces.selectors import actor_role
from portal.web.common import go_to

SECTION = {"console_section": "imports"}


def _writable_spaces(actor) -> list[Space]:
    spaces = Space.objects.filter(deleted_at__isnull=True).annotate(actor_role=actor_role(actor)).order_by("name")
    return [space for space in spaces if Cap.FILE_WRITE in caps_of(space.actor_role)]


def _job(job_id) -> ImportJob:
    job = ImportJob.objects.select_related("space", "created_by").filter(pk=job_id).first()
    if job is None:
        raise NotFound(gettext("No such import job."))
    return job


@console_page
def job_list(request):
    return render(request, "imports/jobs.html", {**SECTION, "jobs": selectors.jobs_list(),
                                                 "spaces": _writable_spaces(request.user),
                                                 "kinds": SourceKind.choices, "modes": Mode.choices})


def _source_fields(data, kind: str) -> tuple[dict, str]:
    if kind == SourceKind.S3:
        return ({name: forms.text(data, f"s3_{name}", required=False)
                 for name in ("endpoint", "bucket", "prefix", "region", "access_key")},
                data.get("s3_secret_key", ""))
    if kind == SourceKind.WEBDAV:
        return ({"url": forms.text(data, "webdav_url", required=False),
                 "username": forms.text(data, "webdav_username", required=False)}, data.get("webdav_password", ""))
    return {"path": forms.text(data, "folder_path", required=False)}, ""


@console_page
@require_POST
def job_new(request):
    data = request.POST
    kind = data.get("source_kind", "")
    source, secret = _source_fields(data, kind)
    limit = forms.size(data, "bandwidth", required=False)
    job = services.import_job_create(
        actor=request.user, space_id=data.get("space"), target=data.get("target") or "/", source_kind=kind,
        source=source, secret=secret, mode=data.get("mode", Mode.INCREMENTAL), name=data.get("name", ""),
        every_hours=data.get("every_hours") or None, bytes_per_second=limit, concurrency=data.get("concurrency") or 4)
    messages.success(request, gettext("The import %(name)s was created.") % {"name": job})
    return go_to(request, reverse("imports:job", args=[job.pk]))


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 90:
        return gettext("about %(seconds)s s") % {"seconds": max(1, round(seconds))}
    if seconds < 90 * 60:
        return gettext("about %(minutes)s min") % {"minutes": round(seconds / 60)}
    return gettext("about %(hours)s h") % {"hours": round(seconds / 3600, 1)}


def _progress(run: ImportRun | None) -> dict:
    if run is None:
        return {"run": None}
    rate, eta = selectors.rate_and_eta(run)
    done = run.files_copied + run.files_skipped + run.files_failed
    total_bytes = run.bytes_copied + run.bytes_pending
    return {"run": run, "rate": rate, "eta": _duration(eta), "files_done": done,
            "files_percent": round(100 * done / run.files_seen) if run.files_seen else 0,
            "bytes_total": total_bytes,
            "bytes_percent": round(100 * run.bytes_copied / total_bytes) if total_bytes else 0}


@console_page
def job_detail(request, job_id):
    job = _job(job_id)
    runs = selectors.job_runs(job)
    latest = runs[0] if runs else None
    return render(request, "imports/job.html", {**SECTION, "job": job, "runs": runs, **_progress(latest),
                                                "errors": selectors.run_errors(latest) if latest else []})


@console_page
def run_progress(request, run_id):
    run = ImportRun.objects.select_related("job").filter(pk=run_id).first()
    if run is None:
        raise NotFound(gettext("No such import run."))
    return render(request, "imports/_progress.html", _progress(run))


@console_page
@require_POST
def job_run(request, job_id):
    job = _job(job_id)
    dry_run = forms.checked(request.POST, "dry_run")
    services.import_run_start(actor=request.user, job_id=job.pk, dry_run=dry_run)
    messages.success(request, gettext("A dry run was started.") if dry_run else gettext("The import was started."))
    return go_to(request, reverse("imports:job", args=[job.pk]))


@console_page
@require_POST
def job_delete(request, job_id):
    job = _job(job_id)
    services.import_job_delete(actor=request.user, job_id=job.pk)
    messages.success(request, gettext("The import was deleted; the files it imported stay."))
    return go_to(request, reverse("imports:jobs"))


def _cell(value: str) -> str:
    """A spreadsheet must not run a file name as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Echo:
    def write(self, value):
        return value


@console_page
def run_report(request, run_id):
    run = ImportRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(gettext("No such import run."))
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["path", "outcome", "size", "modified", "error"])
        for path, outcome, size, mtime, error in selectors.run_items(run):
            yield writer.writerow([_cell(path), outcome, size, mtime.isoformat() if mtime else "", _cell(error)])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.job_id}-run-{run.pk}.csv"'
    return response
