"""Imports from real sources: a folder, a SeaweedFS bucket and `rclone serve
webdav`; full and incremental runs, dry runs, refused names, quota, roots."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta

import pytest

from portal.audit.models import AuditEvent
from portal.core.errors import Forbidden, InvalidInput, NotFound
from portal.files.models import FileVersion, Node, NodeKind
from portal.files.services.direct import file_put
from portal.imports import runner, services
from portal.imports.models import ImportItem, ImportJob, Outcome, RunState
from portal.scanning.models import ScanVerdict
from portal.spaces.models import Space
from tests.imports.conftest import file_bytes, node_at, s3_source, when, write

# Transfer threads have their own database connections: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def run_job(actor, job, *, dry_run=False):
    run = services.import_run_start(actor=actor, job_id=job.pk, dry_run=dry_run, queue=False)
    assert runner.run_execute(run.pk) is not None
    run.refresh_from_db()
    return run


def folder_job(boss, space, roots, **extra):
    return services.import_job_create(actor=boss, space_id=space.pk, target=extra.pop("target", "/Old"),
                                      source_kind="folder", source={"path": str(roots)}, **extra)


def outcomes(run) -> dict[str, str]:
    return dict(ImportItem.objects.filter(run=run).values_list("path", "outcome"))


def test_a_folder_import_keeps_the_folder_structure_and_modification_times(boss, space, roots):
    write(roots, "a.txt", b"alpha", when(2019, 5, 1))
    write(roots, "Reports/2020/q1.csv", b"1,2,3\n", when(2020, 4, 2))
    write(roots, "Reports/notes.md", b"# notes", when(2021, 1, 3))
    job = folder_job(boss, space, roots)
    run = run_job(boss, job)
    assert run.state == RunState.FINISHED
    assert (run.files_seen, run.files_copied, run.files_failed, run.bytes_copied) == (3, 3, 0, 5 + 6 + 7)
    q1 = node_at(space, "/Old/Reports/2020/q1.csv")
    assert file_bytes(q1) == b"1,2,3\n" and q1.modified_at == when(2020, 4, 2)
    assert node_at(space, "/Old/a.txt").modified_at == when(2019, 5, 1)
    assert node_at(space, "/Old/Reports").kind == NodeKind.FOLDER
    events = AuditEvent.objects.filter(action__startswith="import.").order_by("id")
    assert [e.action for e in events] == ["import.job_created", "import.started", "import.finished"]
    assert events.last().details["files_copied"] == 3 and events.last().details["bytes_copied"] == 18
    assert AuditEvent.objects.filter(action="file.uploaded", details__import_run=run.pk).count() == 3
    assert ScanVerdict.objects.filter(version__node__space=space).count() == 3  # scanned as every new version


def test_an_incremental_run_copies_only_new_and_changed_files(boss, space, roots):
    write(roots, "same.txt", b"same", when(2019))
    write(roots, "grows.txt", b"v1", when(2019))
    write(roots, "touched.txt", b"t", when(2019))
    job = folder_job(boss, space, roots)
    run_job(boss, job)
    write(roots, "grows.txt", b"version 2", when(2022))
    write(roots, "touched.txt", b"t", when(2023))
    write(roots, "sub/new.txt", b"new", when(2024))
    second = run_job(boss, job)
    assert outcomes(second) == {"same.txt": "skipped", "grows.txt": "copied", "touched.txt": "copied",
                                "sub/new.txt": "copied"}
    assert (second.files_copied, second.files_skipped) == (3, 1)
    assert node_at(space, "/Old/grows.txt").versions.count() == 2
    assert node_at(space, "/Old/same.txt").versions.count() == 1
    third = run_job(boss, job)
    assert (third.files_copied, third.files_skipped) == (0, 4)


def test_a_file_deleted_in_coffer_is_imported_again_by_the_next_incremental_run(boss, space, roots):
    from portal.files.services.tree import node_trash

    write(roots, "keep.txt", b"keep", when(2019))
    job = folder_job(boss, space, roots)
    run_job(boss, job)
    node_trash(actor=boss, node_id=node_at(space, "/Old/keep.txt").pk)
    assert outcomes(run_job(boss, job)) == {"keep.txt": "copied"}


def test_a_full_run_copies_everything_again(boss, space, roots):
    write(roots, "x.txt", b"x", when(2019))
    job = folder_job(boss, space, roots, mode="full")
    run_job(boss, job)
    assert outcomes(run_job(boss, job)) == {"x.txt": "copied"}
    assert node_at(space, "/Old/x.txt").versions.count() == 2


def test_a_dry_run_writes_nothing_and_reports_what_it_would_copy(boss, space, roots):
    write(roots, "a.txt", b"alpha", when(2019))
    write(roots, "b/CON.txt", b"device name", when(2019))
    job = folder_job(boss, space, roots)
    before = (Node.objects.count(), FileVersion.objects.count())
    run = run_job(boss, job, dry_run=True)
    assert (Node.objects.count(), FileVersion.objects.count()) == before
    assert outcomes(run) == {"a.txt": "would-copy", "b/CON.txt": "failed"}
    assert (run.files_copied, run.bytes_copied, run.files_failed) == (1, 5, 1)
    assert "reserved on Windows" in ImportItem.objects.get(run=run, path="b/CON.txt").error
    assert outcomes(run_job(boss, job)) == {"a.txt": "copied", "b/CON.txt": "failed"}  # the dry run is no baseline


def test_names_coffer_refuses_are_reported_and_never_renamed(boss, space, roots):
    write(roots, "fine.txt", b"ok")
    write(roots, "what?.txt", b"q")
    write(roots, "AUX.log", b"a")
    run = run_job(boss, folder_job(boss, space, roots))
    assert outcomes(run) == {"fine.txt": "copied", "what?.txt": "failed", "AUX.log": "failed"}
    assert "Windows does not allow" in ImportItem.objects.get(run=run, path="what?.txt").error
    assert sorted(Node.objects.filter(space=space, kind="file").values_list("name", flat=True)) == ["fine.txt"]
    assert run.state == RunState.FINISHED and run.files_failed == 2


def test_quota_exceeded_is_reported_per_file_and_the_run_ends_cleanly(boss, space, roots):
    Space.objects.filter(pk=space.pk).update(quota_bytes=100)
    write(roots, "1-small.bin", b"s" * 40)
    write(roots, "2-big.bin", b"b" * 90)
    write(roots, "3-small.bin", b"t" * 40)
    run = run_job(boss, folder_job(boss, space, roots, concurrency=1))
    assert run.state == RunState.FINISHED
    assert outcomes(run) == {"1-small.bin": "copied", "2-big.bin": "failed", "3-small.bin": "copied"}
    assert "quota" in ImportItem.objects.get(run=run, path="2-big.bin").error.lower()
    assert AuditEvent.objects.filter(action="import.finished").last().details["files_failed"] == 1


def test_a_folder_outside_the_import_roots_is_refused(boss, space, roots, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (roots / "link").symlink_to(outside)
    for path in (str(outside), str(roots / ".." / "secret"), str(roots / "link"), "relative/path", "/etc"):
        with pytest.raises(InvalidInput):
            services.import_job_create(actor=boss, space_id=space.pk, source_kind="folder", source={"path": path})
    assert not ImportJob.objects.exists()


def test_a_symbolic_link_inside_the_root_is_reported_not_followed(boss, space, roots, tmp_path):
    outside = tmp_path / "secret"
    write(outside, "passwords.txt", b"hunter2")
    write(roots, "docs/readme.txt", b"hi")
    (roots / "docs" / "escape").symlink_to(outside)
    (roots / "docs" / "passwd").symlink_to(outside / "passwords.txt")
    run = run_job(boss, folder_job(boss, space, roots))
    assert outcomes(run) == {"docs/readme.txt": "copied", "docs/escape": "failed", "docs/passwd": "failed"}
    assert "symbolic link" in ImportItem.objects.get(run=run, path="docs/passwd").error
    assert not FileVersion.objects.filter(size=7).exists()


def test_an_administrator_who_cannot_write_the_space_is_refused_clearly(boss, alice, roots):
    from portal.spaces.services import space_create

    theirs = space_create(actor=alice, name="Theirs")
    with pytest.raises((Forbidden, NotFound)):
        services.import_job_create(actor=boss, space_id=theirs.pk, source_kind="folder", source={"path": str(roots)})


def test_non_administrators_cannot_create_or_start_imports(alice, boss, space, roots):
    job = folder_job(boss, space, roots)
    with pytest.raises(NotFound):
        services.import_job_create(actor=alice, space_id=space.pk, source_kind="folder", source={"path": str(roots)})
    with pytest.raises(NotFound):
        services.import_run_start(actor=alice, job_id=job.pk)


def test_a_second_run_of_a_busy_job_is_refused(boss, space, roots):
    job = folder_job(boss, space, roots)
    services.import_run_start(actor=boss, job_id=job.pk, queue=False)
    with pytest.raises(Exception, match="has not ended"):
        services.import_run_start(actor=boss, job_id=job.pk, queue=False)


def test_running_a_finished_run_again_changes_nothing(boss, space, roots):
    write(roots, "a.txt", b"a")
    run = run_job(boss, folder_job(boss, space, roots))
    assert runner.run_execute(run.pk) is None
    assert FileVersion.objects.count() == 1


def test_a_run_whose_creator_lost_write_access_fails_saying_why(boss, space, roots):
    from portal.spaces.models import Membership

    write(roots, "a.txt", b"a")
    job = folder_job(boss, space, roots)
    Membership.objects.filter(space=space, user=boss).delete()
    run = run_job(boss, job)
    assert run.state == RunState.FAILED and "space" in run.error.lower()
    assert AuditEvent.objects.filter(action="import.failed").exists()


def test_the_bandwidth_limit_holds(boss, space, roots):
    import time

    write(roots, "big.bin", os.urandom(96 * 1024))
    job = folder_job(boss, space, roots, bytes_per_second=64 * 1024)
    started = time.monotonic()
    run_job(boss, job)
    assert time.monotonic() - started >= 0.4  # 96 KiB at 64 KiB/s, the first second's burst included


def test_source_secrets_are_sealed_and_never_stored_in_clear(boss, space, seaweed, bucket):
    name, _ = bucket
    job = services.import_job_create(actor=boss, space_id=space.pk, source_kind="s3",
                                     source=s3_source(seaweed, name), secret=seaweed.secret_key)
    assert seaweed.secret_key not in job.secret_sealed and seaweed.secret_key not in str(job.source)
    assert seaweed.secret_key not in str(AuditEvent.objects.get(action="import.job_created").details)


# --- S3 -------------------------------------------------------------------------------
def test_an_s3_import_copies_a_prefix_and_compares_etags_next_time(boss, space, seaweed, bucket):
    name, client = bucket
    client.put_object(Bucket=name, Key="old/a.txt", Body=b"alpha")
    client.put_object(Bucket=name, Key="old/deep/b.txt", Body=b"beta")
    client.put_object(Bucket=name, Key="other/c.txt", Body=b"not imported")
    job = services.import_job_create(actor=boss, space_id=space.pk, target="/S3", source_kind="s3",
                                     source=s3_source(seaweed, name, "old/"), secret=seaweed.secret_key)
    run = run_job(boss, job)
    assert outcomes(run) == {"a.txt": "copied", "deep/b.txt": "copied"}
    b = node_at(space, "/S3/deep/b.txt")
    assert file_bytes(b) == b"beta"
    assert abs(b.modified_at - client.head_object(Bucket=name, Key="old/deep/b.txt")["LastModified"]) \
        < timedelta(seconds=1)
    client.put_object(Bucket=name, Key="old/deep/b.txt", Body=b"BETA")  # same size, new ETag
    assert outcomes(run_job(boss, job)) == {"a.txt": "skipped", "deep/b.txt": "copied"}
    assert file_bytes(node_at(space, "/S3/deep/b.txt")) == b"BETA"


def test_an_s3_source_with_wrong_credentials_is_refused_at_creation(boss, space, seaweed, bucket):
    name, _ = bucket
    with pytest.raises(InvalidInput, match="cannot be listed"):
        services.import_job_create(actor=boss, space_id=space.pk, source_kind="s3",
                                   source=s3_source(seaweed, name), secret="wrong-secret")


# --- WebDAV ---------------------------------------------------------------------------
def test_a_webdav_import_from_rclone_serve_webdav(boss, space, webdav):
    folder, url, user, password = webdav
    write(folder, "Projects/plan.txt", b"the plan", when(2018, 3, 4))
    write(folder, "Projects/Sub folder/r\u00e9sum\u00e9 #1.txt", "r\u00e9sum\u00e9".encode(), when(2018, 3, 5))
    write(folder, "top.bin", os.urandom(300_000), when(2018, 3, 6))
    job = services.import_job_create(actor=boss, space_id=space.pk, target="/Cloud", source_kind="webdav",
                                     source={"url": url, "username": user}, secret=password)
    run = run_job(boss, job)
    assert run.state == RunState.FINISHED, run.error
    assert set(outcomes(run).values()) == {"copied"} and run.files_copied == 3
    plan = node_at(space, "/Cloud/Projects/plan.txt")
    assert file_bytes(plan) == b"the plan" and plan.modified_at == when(2018, 3, 4)
    assert file_bytes(node_at(space, "/Cloud/Projects/Sub folder/r\u00e9sum\u00e9 #1.txt")) == "r\u00e9sum\u00e9".encode()
    assert node_at(space, "/Cloud/top.bin").size == 300_000
    write(folder, "Projects/plan.txt", b"the new plan", when(2019))
    assert outcomes(run_job(boss, job))["Projects/plan.txt"] == "copied"


def test_a_webdav_source_with_a_wrong_password_is_refused(boss, space, webdav):
    _, url, user, _ = webdav
    with pytest.raises(InvalidInput, match="refused"):
        services.import_job_create(actor=boss, space_id=space.pk, source_kind="webdav",
                                   source={"url": url, "username": user}, secret="wrong")


def test_an_existing_file_at_the_target_gets_a_new_version(boss, space, roots):
    file_put(actor=boss, space_id=space.pk, path="/Old/a.txt", fileobj=io.BytesIO(b"mine"), size=4)
    write(roots, "a.txt", b"imported")
    run_job(boss, folder_job(boss, space, roots))
    node = node_at(space, "/Old/a.txt")
    assert node.versions.count() == 2 and file_bytes(node) == b"imported"


def test_when_coffers_store_stops_answering_the_run_stops_and_no_file_is_marked_failed(boss, space, roots, settings,
                                                                                        tmp_path):
    for n in range(30):
        write(roots, f"f{n}.txt", b"data")
    job = folder_job(boss, space, roots, concurrency=2)
    settings.STORAGE_ROOT = tmp_path / "unmounted"  # the store's folder is missing: nothing can be stored
    run = run_job(boss, job)
    assert run.state == RunState.FAILED and "Start it again" in run.error
    assert run.files_failed == 0 and run.files_pending == 30
    assert AuditEvent.objects.filter(action="import.failed").exists()


@pytest.mark.parametrize("processes, daemonic", [(1, False), (2, False), (2, True)],
                         ids=["threads", "forked-processes", "daemonic-worker-falls-back-to-threads"])
def test_transfers_in_threads_or_processes_copy_the_same_bytes_with_their_sha256(
        boss, space, roots, settings, monkeypatch, caplog, processes, daemonic):
    import hashlib
    import multiprocessing

    settings.IMPORT_PROCESSES = processes
    if daemonic:  # a Celery prefork child: multiprocessing refuses to fork from it
        monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    contents = {f"d{n % 3}/f{n}.bin": os.urandom(100 + n) for n in range(25)}
    for path, data in contents.items():
        write(roots, path, data)
    run = run_job(boss, folder_job(boss, space, roots, concurrency=4))
    assert run.state == RunState.FINISHED and run.files_copied == 25
    for path, data in contents.items():
        node = node_at(space, f"/Old/{path}")
        assert file_bytes(node) == data
        assert node.current_version.blob.expected_sha256 == hashlib.sha256(data).hexdigest()
    assert multiprocessing.active_children() == []  # the transfer processes are gone
    assert ("no transfer processes" in caplog.text) == daemonic


def test_files_are_copied_while_the_source_is_still_being_listed(boss, space, roots, settings, monkeypatch):
    settings.IMPORT_PROCESSES = 2
    contents = {f"d{n % 3}/f{n:02}.bin": os.urandom(100 + n) for n in range(12)}
    for path, data in contents.items():
        write(roots, path, data)
    monkeypatch.setattr(runner, "LIST_BATCH", 4)
    store_batch, seen_copied = runner._store_batch, []

    def store_then_wait_for_a_copy(context, batch, previous):
        store_batch(context, batch, previous)
        if seen_copied:
            return
        # The listing holds here, after its first batch, until one of those files is copied.
        deadline = time.monotonic() + 30
        copied = ImportItem.objects.filter(run=context.run, outcome=Outcome.COPIED)
        while not copied.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the database for the committer's first batch until the deadline
        seen_copied.append(copied.exists())

    monkeypatch.setattr(runner, "_store_batch", store_then_wait_for_a_copy)
    run = run_job(boss, folder_job(boss, space, roots, concurrency=2))
    assert seen_copied == [True]  # copied before the last files were even listed
    assert run.state == RunState.FINISHED and run.files_copied == 12 and run.listed
    for path, data in contents.items():
        assert file_bytes(node_at(space, f"/Old/{path}")) == data
        assert FileVersion.objects.filter(node=node_at(space, f"/Old/{path}")).count() == 1


def test_a_listing_that_breaks_off_fails_the_run_and_what_it_copied_is_there_once(boss, space, roots, monkeypatch):
    from portal.core.errors import PortalError
    from portal.imports.sources import FolderSource

    contents = {f"f{n:02}.bin": os.urandom(100 + n) for n in range(12)}
    for path, data in contents.items():
        write(roots, path, data)
    monkeypatch.setattr(runner, "LIST_BATCH", 4)
    entries = FolderSource.entries

    def entries_then_silence(self):
        for number, entry in enumerate(entries(self)):
            if number == 8:
                raise PortalError("The source stopped answering.", code="source_unreachable")
            yield entry

    monkeypatch.setattr(FolderSource, "entries", entries_then_silence)
    run = run_job(boss, folder_job(boss, space, roots, concurrency=2))
    assert run.state == RunState.FAILED and "stopped answering" in run.error and not run.listed
    items = ImportItem.objects.filter(run=run)
    assert items.count() == 8 and not items.exclude(outcome__in=[Outcome.COPIED, Outcome.PENDING]).exists()
    for item in items.filter(outcome=Outcome.COPIED):
        assert item.version.node.versions.count() == 1
        assert file_bytes(node_at(space, f"/Old/{item.path}")) == contents[item.path]
