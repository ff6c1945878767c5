"""Maintenance: one beat schedule covering every periodic job, and each
scheduled task's runs recorded (TaskRun) and shown in the admin."""

from django.conf import settings

from portal.audit.models import TaskOutcome, TaskRun
from portal.core.tasks import ping
from portal.locks import tasks as lock_tasks

# The maintenance the issue asks for, each with the task that does it.
REQUIRED = {
    "link expiry": "shares.expire",
    "lock expiry": "locks.expire",
    "trash purge": "files.purge_expired_trash",
    "upload-session sweep": "files.sweep_uploads",
    "orphan object sweep": "files.sweep_orphan_objects",
    "version retention": "files.apply_version_retention",
    "backup retention": "backups.apply_retention",
    "backup GC": "backups.collect_garbage",
    "audit sealing": "audit.seal",
    "audit retention": "audit.purge_expired",
}


def test_the_beat_schedule_covers_every_maintenance_job():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {job: task for job, task in REQUIRED.items() if task not in scheduled} == {}


def test_every_scheduled_task_exists():
    from portal.celery import app

    app.loader.import_default_modules()
    missing = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()} - set(app.tasks)
    assert missing == set()


def test_a_scheduled_task_run_is_recorded_with_its_outcome(db):
    lock_tasks.expire.apply()
    run = TaskRun.objects.get(name="locks.expire")
    assert run.outcome == TaskOutcome.OK and run.finished_at is not None and run.detail == "0"


def test_a_failed_run_is_recorded_with_its_error(db, monkeypatch):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(lock_tasks.services, "locks_expire", broken)
    lock_tasks.expire.apply()
    run = TaskRun.objects.get(name="locks.expire")
    assert run.outcome == TaskOutcome.FAILED and "disk on fire" in run.detail


def test_tasks_outside_the_schedule_are_not_recorded(db):
    ping.apply()
    assert not TaskRun.objects.exists()


def test_the_maintenance_page_lists_each_beat_entry_with_its_last_run(admin_client_, monkeypatch):
    lock_tasks.expire.apply()
    response = admin_client_.get("/admin/audit/taskrun/")
    assert response.status_code == 200
    rows = {row["task"]: row for row in response.context["beat_entries"]}
    assert set(rows) == {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert rows["locks.expire"]["last"].outcome == TaskOutcome.OK
    assert rows["locks.expire"]["schedule"] == "every 5 minutes"
    assert rows["backups.collect_garbage"]["last"] is None
    assert 'data-task="audit.seal"' in response.content.decode()
