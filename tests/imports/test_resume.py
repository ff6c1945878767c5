"""Crashes: a `manage.py import_run` process and a real Celery worker
killed with SIGKILL mid-job, then resumed: every file exactly once, none
lost, no duplicate versions. Also the beat tick's resuming and scheduling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db.models import Count
from django.utils import timezone

from portal.files.models import FileVersion, Node
from portal.imports import runner, selectors, services, tasks
from portal.imports.transfer import fetch_one
from portal.imports.models import ImportItem, ImportRun, Outcome, RunState
from portal.storage import get_store
from tests.imports.conftest import file_bytes, node_at, s3_source, write
from tests.support.coedit import server_env

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
FILES = 40


def _cli(*args, env_extra: dict) -> subprocess.Popen:
    env = server_env(PORTAL_STORAGE_ROOT=str(django_settings.STORAGE_ROOT), **env_extra)
    return subprocess.Popen([sys.executable, "manage.py", "import_run", "--no-progress", *args], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def _wait_for_copies(run_id: int, at_least: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while ImportItem.objects.filter(run_id=run_id, outcome=Outcome.COPIED).count() < at_least:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the import copied too little within 60 s"
        time.sleep(0.05)  # polling the database for the subprocess's progress until the deadline


def _assert_each_file_exactly_once(space, sources: dict[str, bytes], target: str) -> None:
    files = Node.objects.filter(space=space, kind="file", trashed_at__isnull=True)
    assert files.count() == len(sources)
    assert not FileVersion.objects.filter(node__space=space).values("node").annotate(n=Count("id")).filter(n__gt=1)
    for relative, data in sources.items():
        assert file_bytes(node_at(space, f"{target}/{relative}")) == data


def test_sigkill_of_import_run_mid_job_then_resume_loses_and_duplicates_nothing(boss, space, roots, settings):
    sources = {f"d{n % 4}/f{n:03}.bin": os.urandom(20_000 + n) for n in range(FILES)}
    for relative, data in sources.items():
        write(roots, relative, data)
    # 100 KB/s over 40 files of ~20 KB: about 8 s, killed after a few files.
    job = services.import_job_create(actor=boss, space_id=space.pk, target="/Nas", source_kind="folder",
                                     source={"path": str(roots)}, bytes_per_second=100_000, concurrency=3)
    process = _cli("--job", str(job.pk), env_extra={"PORTAL_IMPORT_ROOTS": str(roots)})
    try:
        run_id = _first_run(job, process)
        _wait_for_copies(run_id, 5, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    run = ImportRun.objects.get(pk=run_id)
    assert run.state == RunState.RUNNING and ImportItem.objects.filter(run=run, outcome=Outcome.PENDING).exists()
    copied_before = ImportItem.objects.filter(run=run, outcome=Outcome.COPIED).count()
    assert 5 <= copied_before < FILES

    assert runner.run_execute(run_id) is None  # its heartbeat is fresh: a live worker is assumed
    settings.IMPORT_STALE_SECONDS = 0
    assert selectors.runs_stalled() == [run_id]
    process = _cli("--job", str(job.pk), env_extra={"PORTAL_IMPORT_ROOTS": str(roots),
                                                    "PORTAL_IMPORT_STALE_SECONDS": "0"})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert f"Resuming run {run_id}" in out.decode()
    run.refresh_from_db()
    assert run.state == RunState.FINISHED and run.files_copied == FILES and run.files_failed == 0
    assert run.attempt == 2
    _assert_each_file_exactly_once(space, sources, "/Nas")


def _first_run(job, process) -> int:
    deadline = time.monotonic() + 30
    while (run := ImportRun.objects.filter(job=job).first()) is None:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)  # polling for the subprocess's run until the deadline
    return run.pk


def _celery_worker(stale_seconds: str) -> subprocess.Popen:
    """A real Celery worker (solo pool: tasks run in its own process) on the test broker and database."""
    env = server_env(PORTAL_STORAGE_ROOT=str(django_settings.STORAGE_ROOT), DJANGO_SETTINGS_MODULE="portal.settings",
                     PORTAL_IMPORT_STALE_SECONDS=stale_seconds)
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-l", "WARNING",
                             "--without-gossip", "--without-mingle", "--without-heartbeat"], cwd=ROOT, env=env,
                            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@pytest.mark.redis
def test_sigkill_of_a_celery_worker_mid_s3_import_then_the_tick_resumes_it(boss, space, seaweed, bucket, settings):
    """A real worker runs imports.run and is killed with SIGKILL; the beat's tick finds the run stalled
    and queues it again; a new worker finishes it: each object exactly once."""
    from portal.celery import app

    name, client = bucket
    sources = {f"p/{n:03}.dat": os.urandom(15_000 + n) for n in range(FILES)}
    for relative, data in sources.items():
        client.put_object(Bucket=name, Key=f"in/{relative}", Body=data)
    job = services.import_job_create(actor=boss, space_id=space.pk, target="/Bucket", source_kind="s3",
                                     source=s3_source(seaweed, name, "in/"), secret=seaweed.secret_key,
                                     bytes_per_second=80_000, concurrency=4)
    app.control.purge()  # this test database's broker: no stale task from other tests
    worker = _celery_worker(stale_seconds="90")
    try:
        run = services.import_run_start(actor=boss, job_id=job.pk)  # queued for the worker on commit
        _wait_for_copies(run.pk, 4, worker)
    finally:
        _stop(worker, signal.SIGKILL)
    assert ImportItem.objects.filter(run=run, outcome=Outcome.PENDING).exists()
    settings.IMPORT_STALE_SECONDS = 0
    assert tasks.tick()["resumed"] == [run.pk]  # queued imports.run again
    worker = _celery_worker(stale_seconds="0")
    try:
        deadline = time.monotonic() + 90
        while not ImportRun.objects.get(pk=run.pk).done:
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "the new worker did not finish the run within 90 s"
            time.sleep(0.1)  # polling the database for the worker's progress until the deadline
    finally:
        _stop(worker)
    run.refresh_from_db()
    assert run.state == RunState.FINISHED and run.files_copied == FILES and run.attempt == 2
    _assert_each_file_exactly_once(space, sources, "/Bucket")


def test_two_workers_on_one_run_never_copy_a_file_twice(boss, space, roots):
    for n in range(12):
        write(roots, f"f{n}.txt", b"x" * n)
    job = services.import_job_create(actor=boss, space_id=space.pk, source_kind="folder", source={"path": str(roots)})
    run = services.import_run_start(actor=boss, job_id=job.pk, queue=False)
    context = runner.Context(run=runner._claim(run.pk), job=job, source=runner.job_source(job))
    runner._list(context)
    items = list(ImportItem.objects.filter(run=run).values_list("id", "path", "size", "mtime"))
    # Two workers both transfer every file (each thinks them pending); one commits first ...
    def fetch(item):
        return fetch_one(context.source, lambda path: runner.target_path(job, path), item, None)

    first, second = [fetch(item) for item in items], [fetch(item) for item in items]
    runner._commit(context, first)
    runner._commit(context, second)  # ... the other gets nothing in, and its objects are removed
    assert FileVersion.objects.filter(node__space=space).count() == 12
    assert not ImportItem.objects.filter(run=run).exclude(outcome=Outcome.COPIED).exists()
    store = get_store()
    assert all(store.exists(stored.key) for stored in first)
    assert not any(store.exists(stored.key) for stored in second)


def test_the_tick_starts_periodic_jobs_that_are_due_and_only_those(boss, space, roots):
    write(roots, "a.txt", b"a")
    due = services.import_job_create(actor=boss, space_id=space.pk, source_kind="folder",
                                     source={"path": str(roots)}, every_hours=6)
    fresh = services.import_job_create(actor=boss, space_id=space.pk, source_kind="folder",
                                       source={"path": str(roots)}, every_hours=6, target="/Fresh")
    services.import_job_create(actor=boss, space_id=space.pk, source_kind="folder", source={"path": str(roots)},
                               target="/Once")
    old = services.import_run_start(actor=boss, job_id=due.pk, queue=False)
    runner.run_execute(old.pk)
    ImportRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=7))
    runner.run_execute(services.import_run_start(actor=boss, job_id=fresh.pk, queue=False).pk)
    started = tasks.tick()["started"]
    assert [ImportRun.objects.get(pk=pk).job_id for pk in started] == [due.pk]
    assert tasks.tick()["started"] == []  # its run is queued now
