"""The console's import pages: the list and the new-import form, a job's
page with progress and errors, runs started from it, the CSV report;
outsiders get 404, bad input says why."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from portal.imports import runner, services
from portal.imports.models import ImportJob, ImportRun, RunState
from tests.adminpanel.console_support import assert_portal_404, client_for
from tests.imports.conftest import write

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def job(boss, space, roots):
    write(roots, "ok.txt", b"fine")
    write(roots, "=HYPERLINK(1).txt", b"formula")
    write(roots, "bad:name.txt", b"refused")
    return services.import_job_create(actor=boss, space_id=space.pk, target="/Nas", source_kind="folder",
                                      source={"path": str(roots)}, name="NAS archive")


def test_the_list_shows_jobs_and_the_form_offers_the_spaces_one_may_write(boss, space, job):
    page = client_for(boss).get(reverse("imports:jobs")).content.decode()
    assert "NAS archive" in page and f'<option value="{space.pk}">Migrated</option>' in page
    assert 'name="s3_secret_key" type="password"' in page and 'name="webdav_url"' in page


def test_an_administrator_creates_a_folder_import_from_the_form(boss, space, roots):
    response = client_for(boss).post(reverse("imports:job-new"), {
        "space": space.pk, "target": "/From NAS", "source_kind": "folder", "folder_path": str(roots),
        "mode": "full", "bandwidth": "20 MB", "concurrency": "2", "every_hours": "24"})
    assert response.status_code == 303
    created = ImportJob.objects.get()
    assert (created.target, created.mode, created.bytes_per_second, created.concurrency, created.every_hours) == \
        ("/From NAS", "full", 20 * 1024**2, 2, 24)
    assert response["Location"] == reverse("imports:job", args=[created.pk])


def test_an_s3_import_from_the_form_keeps_its_secret_sealed(boss, space, seaweed, bucket):
    name, _ = bucket
    client_for(boss).post(reverse("imports:job-new"), {
        "space": space.pk, "source_kind": "s3", "s3_endpoint": seaweed.endpoint_url, "s3_bucket": name,
        "s3_region": seaweed.region, "s3_access_key": seaweed.access_key, "s3_secret_key": seaweed.secret_key})
    created = ImportJob.objects.get()
    page = client_for(boss).get(reverse("imports:job", args=[created.pk])).content.decode()
    assert seaweed.secret_key not in page and name in page


@pytest.mark.parametrize("data, message", [
    ({"source_kind": "folder", "folder_path": "/etc"}, "outside the folders"),
    ({"source_kind": "ftp"}, "Choose a source"),
    ({"source_kind": "webdav", "webdav_url": "file:///etc/passwd"}, "http:// or https://"),
    ({"source_kind": "folder", "concurrency": "1000"}, "between 1 and"),
])
def test_bad_input_in_the_form_says_why_and_creates_nothing(boss, space, roots, data, message):
    data = {"space": space.pk, "folder_path": str(roots), **data}
    response = client_for(boss).post(reverse("imports:job-new"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_job_page_shows_the_run_its_errors_and_a_csv_report_of_every_file(boss, job):
    client = client_for(boss)
    assert client.post(reverse("imports:job-run", args=[job.pk])).status_code == 303
    run = ImportRun.objects.get()
    running = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in running  # queued: the progress polls
    runner.run_execute(run.pk)
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 2s"' not in page
    assert "bad:name.txt" in page and "Windows does not allow" in page
    assert "Download report (CSV)" in page
    fragment = client.get(reverse("imports:run-progress", args=[run.pk])).content.decode()
    assert 'data-count="copied">2<' in fragment and 'data-count="failed">1<' in fragment
    report = client.get(reverse("imports:run-report", args=[run.pk]))
    assert report["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0] == ["path", "outcome", "size", "modified", "error"]
    by_path = {row[0]: row for row in rows[1:]}
    assert by_path["ok.txt"][1:3] == ["copied", "4"] and by_path["bad:name.txt"][1] == "failed"
    assert "'=HYPERLINK(1).txt" in by_path  # a name is never a formula in a spreadsheet


def test_a_dry_run_from_the_job_page(boss, job):
    client_for(boss).post(reverse("imports:job-run", args=[job.pk]), {"dry_run": "1"})
    run = ImportRun.objects.get()
    assert run.dry_run and run.state == RunState.QUEUED


def test_starting_a_busy_job_again_says_so(boss, job):
    client = client_for(boss)
    client.post(reverse("imports:job-run", args=[job.pk]))
    response = client.post(reverse("imports:job-run", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 409 and "has not ended" in response.content.decode()


def test_deleting_a_job_keeps_its_files(boss, space, job):
    run = services.import_run_start(actor=boss, job_id=job.pk, queue=False)
    runner.run_execute(run.pk)
    assert client_for(boss).post(reverse("imports:job-delete", args=[job.pk])).status_code == 303
    assert not ImportJob.objects.exists() and space.nodes.filter(name="ok.txt").exists()


def test_import_pages_are_404_for_non_administrators(alice, job):
    run = services.import_run_start(actor=job.created_by, job_id=job.pk, queue=False)
    client = client_for(alice)
    for url in (reverse("imports:jobs"), reverse("imports:job", args=[job.pk]),
                reverse("imports:run-progress", args=[run.pk]), reverse("imports:run-report", args=[run.pk])):
        assert_portal_404(client.get(url))
    for url in (reverse("imports:job-new"), reverse("imports:job-run", args=[job.pk]),
                reverse("imports:job-delete", args=[job.pk])):
        assert_portal_404(client.post(url, {"source_kind": "folder"}))
    assert ImportRun.objects.count() == 1 and ImportJob.objects.exists()


def test_unknown_jobs_and_runs_are_404(boss):
    client = client_for(boss)
    assert_portal_404(client.get(reverse("imports:job", args=[999])))
    assert_portal_404(client.get(reverse("imports:run-report", args=[999])))


def test_a_running_run_shows_its_rate_and_time_left(boss, job):
    from datetime import timedelta

    from django.utils import timezone

    run = services.import_run_start(actor=boss, job_id=job.pk, queue=False)
    now = timezone.now()
    ImportRun.objects.filter(pk=run.pk).update(state=RunState.RUNNING, listed=True, started_at=now - timedelta(seconds=10),
                                               heartbeat_at=now, files_seen=100, files_copied=10,
                                               bytes_copied=10 * 1024**2, bytes_pending=300 * 1024**2)
    fragment = client_for(boss).get(reverse("imports:run-progress", args=[run.pk])).content.decode()
    assert "1.0\xa0MB/s" in fragment and "about 5 min" in fragment and 'hx-trigger="every 2s"' in fragment
