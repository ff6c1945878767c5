"""The admin console around the apps' own admin pages: the index page with
the dashboard link, and the maintenance page (the beat schedule with each
task's last run, and every run). ``TaskRun`` stays an audit model, so the
page keeps its address, /admin/audit/taskrun/."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db.models import Max, Q
from django.utils.translation import gettext_lazy as _

from portal.adminpanel.adminkit import ReadOnlyAdmin
from portal.audit.models import TaskRun

admin.site.index_template = "admin/coffer/index.html"
admin.site.site_header = _("Coffer administration")
admin.site.site_title = _("Coffer admin")


def _every(seconds) -> str:
    seconds = getattr(seconds, "total_seconds", lambda: seconds)()
    if not isinstance(seconds, int | float):
        return str(seconds)  # a crontab
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"every {count} {unit}{'s' if count != 1 else ''}"
    return f"every {int(seconds)} seconds"


def beat_entries() -> list[dict]:
    """Each beat entry with its schedule, last run and last outcome (two queries)."""
    schedule = settings.CELERY_BEAT_SCHEDULE
    names = {entry["task"] for entry in schedule.values()}
    last_started = dict(TaskRun.objects.filter(name__in=names).values("name").annotate(last=Max("started_at"))
                        .values_list("name", "last"))
    match = Q(pk__in=[])
    for name, started in last_started.items():
        match |= Q(name=name, started_at=started)
    last = {run.name: run for run in TaskRun.objects.filter(match)} if last_started else {}
    return [{"entry": key, "task": entry["task"], "schedule": _every(entry["schedule"]),
             "last": last.get(entry["task"])} for key, entry in sorted(schedule.items())]


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Maintenance: the beat schedule with each task's last run, and every run."""

    list_display = ("name", "started_at", "finished_at", "outcome", "short_detail")
    list_filter = ("outcome", "name")
    readonly_fields = [f.name for f in TaskRun._meta.fields]
    actions = None
    change_list_template = "admin/coffer/taskrun_change_list.html"

    @admin.display(description=_("detail"))
    def short_detail(self, obj: TaskRun) -> str:
        return obj.detail[:120]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "beat_entries": beat_entries()}
        return super().changelist_view(request, extra_context=extra_context)
