"""The restore-to-a-point-in-time page of a space (managers, owners and
administrators): pick a time and maybe a folder, see the preview, apply."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render
from django.utils import dateparse, timezone
from django.views.decorators.http import require_GET, require_POST

from portal.core.access import Cap
from portal.files.models import RestoreState
from portal.files.services import point_in_time
from portal.spaces.selectors import space_access
from portal.web.common import is_htmx, portal_page

SHOWN = 200  # changes listed on the page (the counts cover all)


def _form(request) -> dict:
    data = request.POST
    return {"at": (data.get("at") or "").strip(), "path": (data.get("path") or "").strip()}


def _page(request, access, form: dict, **extra):
    return render(request, "web/browser/restore_point.html", {"space": access.space, "form": form, **extra})


@portal_page
@require_GET
def restore_point(request, space_id):
    access = space_access(request.user, space_id, Cap.POINT_RESTORE)
    default = timezone.localtime(timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    return _page(request, access, {"at": _local(request.GET.get("at", "")) or default,
                                   "path": request.GET.get("path", "")[:4096]})


def _local(value: str) -> str:
    """A link's T (ISO 8601, maybe with an offset, as a ransomware alert gives it) in the
    reader's time zone to the second, as the date-and-time field takes it; "" if it is no time."""
    try:
        parsed = dateparse.parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        return ""
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return timezone.localtime(parsed).strftime("%Y-%m-%dT%H:%M:%S")


@portal_page
@require_POST
def restore_point_preview(request, space_id):
    access = space_access(request.user, space_id, Cap.POINT_RESTORE)
    form = _form(request)
    plan = point_in_time.point_restore_preview(actor=request.user, space_id=space_id, at=form["at"],
                                               path=form["path"])
    context = {"space": access.space, "form": form, "plan": point_in_time.plan_out(plan, limit=SHOWN),
               "shown": SHOWN}
    if is_htmx(request):
        return render(request, "web/browser/_restore_plan.html", context)
    return _page(request, access, form, plan=context["plan"], shown=SHOWN)


@portal_page
@require_POST
def restore_point_apply(request, space_id):
    access = space_access(request.user, space_id, Cap.POINT_RESTORE)
    form = _form(request)
    run = point_in_time.point_restore_start(actor=request.user, space_id=space_id, at=form["at"], path=form["path"])
    if is_htmx(request):
        return render(request, "web/browser/_restore_run.html", _run_context(access, run))
    return _page(request, access, form, **_run_context(access, run))


@portal_page
@require_GET
def restore_point_run(request, space_id, run_id):
    access = space_access(request.user, space_id, Cap.POINT_RESTORE)
    run = point_in_time.point_restore_get(request.user, run_id)
    return render(request, "web/browser/_restore_run.html", _run_context(access, run))


def _run_context(access, run) -> dict:
    counts = run.counts or {}
    changed = sum(counts.get(kind, 0) for kind in ("trash", "untrash", "place", "content"))
    percent = int(100 * run.done / run.total) if run.total else 100
    return {"space": access.space, "run": run, "counts": counts, "changed": changed, "percent": percent,
            "running": run.state in (RestoreState.QUEUED, RestoreState.RUNNING)}
