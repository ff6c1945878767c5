"""manage.py import_run: create-and-run from flags, run a job again, dry
runs; bad input exits with code 2 and changes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portal.files.models import Node
from portal.imports.models import ImportJob, ImportRun, RunState
from tests.imports.conftest import file_bytes, node_at, write

pytestmark = pytest.mark.django_db(transaction=True)


def cli(*args) -> str:
    out = io.StringIO()
    call_command("import_run", *args, stdout=out)
    return out.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as caught:
        cli(*args)
    assert caught.value.returncode == 2
    return str(caught.value)


def test_the_command_creates_a_job_from_flags_and_runs_it(boss, space, roots):
    write(roots, "a/b.txt", b"bee")
    out = cli("--as", "boss", "--space", str(space.pk), "--to", "/In", "--source", "folder", "--path", str(roots))
    assert "Created import job" in out and "1 copied" in out
    assert file_bytes(node_at(space, "/In/a/b.txt")) == b"bee"
    job = ImportJob.objects.get()
    out = cli("--job", str(job.pk))
    assert "0 copied" in out and "1 unchanged" in out


def test_a_dry_run_from_the_command_line_reports_and_writes_nothing(boss, space, roots):
    write(roots, "x.txt", b"x")
    write(roots, "bad|name.txt", b"y")
    out = cli("--as", "boss", "--space", str(space.pk), "--source", "folder", "--path", str(roots), "--dry-run")
    assert "1 would copy" in out and "failed: bad|name.txt" in out
    assert not Node.objects.filter(space=space, kind="file").exists()


@pytest.mark.parametrize("args", [
    ["--space", "1", "--source", "folder", "--path", "/tmp"],  # no --as
    ["--as", "nobody", "--space", "1", "--source", "folder", "--path", "/tmp"],
    ["--job", "999"],
])
def test_bad_input_exits_with_code_2_and_creates_nothing(boss, space, roots, args):
    refused(*args)
    assert not ImportJob.objects.exists() and not ImportRun.objects.exists()


def test_a_folder_outside_the_roots_or_a_bad_limit_exits_with_code_2(boss, space, roots, tmp_path):
    base = ["--as", "boss", "--space", str(space.pk), "--source", "folder"]
    assert "outside the folders" in refused(*base, "--path", str(tmp_path))
    assert "outside the folders" in refused(*base, "--path", str(roots / ".." / ".."))
    assert "bwlimit" in refused(*base, "--path", str(roots), "--bwlimit", "fast")
    assert "No such space" in refused("--as", "boss", "--space", "999", "--source", "folder", "--path", str(roots))
    assert not ImportJob.objects.exists()


def test_a_non_administrator_cannot_import_from_the_command_line(alice, space, roots):
    assert "not an active administrator" in refused("--as", "alice", "--space", str(space.pk), "--source", "folder",
                                                    "--path", str(roots))


def test_a_job_whose_run_is_alive_elsewhere_is_not_run_twice(boss, space, roots):
    from django.utils import timezone

    cli("--as", "boss", "--space", str(space.pk), "--source", "folder", "--path", str(roots))
    job = ImportJob.objects.get()
    ImportRun.objects.create(job=job, state=RunState.RUNNING, heartbeat_at=timezone.now())
    assert "in progress in another worker" in refused("--job", str(job.pk))


def test_a_job_whose_creator_is_no_longer_an_administrator_is_refused(boss, space, roots):
    cli("--as", "boss", "--space", str(space.pk), "--source", "folder", "--path", str(roots))
    job = ImportJob.objects.get()
    type(boss).objects.filter(pk=boss.pk).update(is_superuser=False)
    assert "no longer an active administrator" in refused("--job", str(job.pk))
    assert ImportRun.objects.count() == 1
