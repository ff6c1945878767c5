"""Attacks on imports (the migration service): hostile names from a source,
links out of PORTAL_IMPORT_ROOTS swapped in while a run goes on, a hostile
WebDAV server, a source that lies about sizes, concurrent files against
the quota, a creator who loses rights mid-run, secrets in what the console
shows and formula injection in the CSV report, and non-administrators. Each
test is one attack; it passes when the defence holds."""

from __future__ import annotations

import csv
import io
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from portal.audit.models import AuditEvent
from portal.core.errors import InvalidInput
from portal.files.models import Node, NodeKind
from portal.imports import runner, services
from portal.imports.models import ImportItem, ImportJob, ImportRun, RunState
from portal.spaces.models import Membership, Space
from tests.imports import conftest as import_fixtures
from tests.imports.conftest import s3_source, write

# The import tests' fixtures: an administrator owning a space, a root folder, a source bucket, rclone's WebDAV.
boss, space, roots, bucket, webdav = (import_fixtures.boss, import_fixtures.space, import_fixtures.roots,
                                      import_fixtures.bucket, import_fixtures.webdav)

# Transfer threads have their own database connections: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)


def run_job(actor, job, *, dry_run=False):
    run = services.import_run_start(actor=actor, job_id=job.pk, dry_run=dry_run, queue=False)
    runner.run_execute(run.pk)
    run.refresh_from_db()
    return run


def folder_job(boss, space, roots, **extra):
    return services.import_job_create(actor=boss, space_id=space.pk, target=extra.pop("target", "/In"),
                                      source_kind="folder", source={"path": str(roots)}, **extra)


def outcomes(run) -> dict[str, str]:
    return dict(ImportItem.objects.filter(run=run).values_list("path", "outcome"))


def live_paths(space) -> set[str]:
    """Every live file's path in ``space``."""
    nodes = {n.pk: n for n in Node.objects.filter(space=space, trashed_at__isnull=True)}

    def path(node):
        parts = []
        while node is not None and node.parent_id is not None:
            parts.append(node.name)
            node = nodes.get(node.parent_id)
        return "/" + "/".join(reversed(parts))

    return {path(n) for n in nodes.values() if n.kind == NodeKind.FILE}


# --- names from the source ---------------------------------------------------------------

HOSTILE_KEYS = ["../up.txt", "a/../../up2.txt", "/abs.txt", "a\\b.txt", "x/./y.txt", "dots/...", "sp/trail. ",
                "c" * 300 + ".txt", "ctl/\x01bell.txt", "ok/fine.txt"]


def test_s3_keys_with_traversal_or_refused_names_never_land_outside_the_target_folder(boss, space, seaweed,
                                                                                      bucket):
    from botocore.exceptions import ClientError

    name, client = bucket
    for key in HOSTILE_KEYS:
        try:
            client.put_object(Bucket=name, Key=key, Body=b"payload")
        except ClientError:   # a key SeaweedFS itself refuses cannot come from it either
            continue
    job = services.import_job_create(actor=boss, space_id=space.pk, target="/In", source_kind="s3",
                                     source=s3_source(seaweed, name), secret=seaweed.secret_key)
    run = run_job(boss, job)
    assert run.state == RunState.FINISHED, run.error
    listed = set(ImportItem.objects.filter(run=run).values_list("path", flat=True))
    assert len(listed) >= 5, listed
    assert live_paths(space) and all(path.startswith("/In/") for path in live_paths(space)), live_paths(space)
    assert "/In/ok/fine.txt" in live_paths(space)
    assert not any(".." in path.split("/") or "\\" in path or "\x01" in path for path in live_paths(space))


def test_a_folder_import_never_follows_a_symbolic_link_out_of_the_roots(boss, space, roots, tmp_path):
    outside = tmp_path / "outside"
    write(outside, "secret.txt", b"top secret")
    write(roots, "ok.txt", b"fine")
    (roots / "link.txt").symlink_to(outside / "secret.txt")
    (roots / "dir").symlink_to(outside, target_is_directory=True)
    run = run_job(boss, folder_job(boss, space, roots))
    assert outcomes(run) == {"ok.txt": "copied", "link.txt": "failed", "dir": "failed"}
    assert live_paths(space) == {"/In/ok.txt"}


def test_a_folder_swapped_for_a_link_just_before_a_file_in_it_is_opened_is_not_followed(
        boss, space, roots, tmp_path, monkeypatch):
    """TOCTOU: the listing saw a real folder; the link appears after it looked and before any file is
    opened (the listed files are stored for copying only after the swap)."""
    outside = tmp_path / "outside"
    write(outside, "report.txt", b"SECRET!!")    # the same size: nothing but the link gives it away
    write(roots, "sub/report.txt", b"harmless")
    job = folder_job(boss, space, roots, concurrency=1)
    real_store = runner._store_batch

    def swap_then_store(context, batch, previous):
        if not (roots / "sub").is_symlink():
            os.rename(roots / "sub", roots / "sub-old")
            os.symlink(outside, roots / "sub", target_is_directory=True)
        return real_store(context, batch, previous)

    monkeypatch.setattr(runner, "_store_batch", swap_then_store)
    run = run_job(boss, job)
    monkeypatch.undo()

    assert (roots / "sub").is_symlink()
    assert outcomes(run) == {"sub/report.txt": "failed"}
    assert live_paths(space) == set()


def test_a_file_swapped_for_a_fifo_after_the_listing_fails_instead_of_hanging_the_run(
        boss, space, roots, monkeypatch):
    write(roots, "pipe.bin", b"regular when listed")
    write(roots, "after.txt", b"after")
    job = folder_job(boss, space, roots, concurrency=1)
    real_store = runner._store_batch

    def swap_then_store(context, batch, previous):  # listed as a regular file, a FIFO when opened
        if (roots / "pipe.bin").is_file():
            os.unlink(roots / "pipe.bin")
            os.mkfifo(roots / "pipe.bin")
        return real_store(context, batch, previous)

    monkeypatch.setattr(runner, "_store_batch", swap_then_store)
    done = {}
    worker = threading.Thread(target=lambda: done.update(run=run_job(boss, job)))
    worker.start()
    worker.join(timeout=30)
    hung = worker.is_alive()
    if hung:  # free the blocked open so the thread ends, then report
        with open(roots / "pipe.bin", "wb"):
            pass
        worker.join(timeout=30)
    assert not hung, "opening a FIFO blocked the import"
    assert outcomes(done["run"]) == {"pipe.bin": "failed", "after.txt": "copied"}


# --- a hostile WebDAV server -----------------------------------------------------------------

class Hostile:
    """A WebDAV server on loopback whose answers a test writes: ``listing``
    maps a folder path to its PROPFIND body, ``files`` a path to (claimed
    size, a callable writing the body). It records every path asked for and
    every Authorization header."""

    def __init__(self):
        self.listing: dict[str, bytes] = {}
        self.files: dict = {}
        self.propfind = None   # answers a PROPFIND of a folder not in ``listing`` when set
        self.asked: list[tuple[str, str, str]] = []
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PROPFIND(self):
                server.asked.append(("PROPFIND", self.path, self.headers.get("Authorization", "")))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = server.listing.get(self.path)
                if body is None and server.propfind is not None:
                    return server.propfind(self)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(207)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                server.asked.append(("GET", self.path, self.headers.get("Authorization", "")))
                answer = server.files.get(self.path)
                if answer is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def hostile():
    server = Hostile()
    yield server
    server.stop()


def multistatus(*responses: tuple[str, int | None]) -> bytes:
    """A PROPFIND answer: (href, size) pairs; size None for a folder."""
    parts = []
    for href, size in responses:
        kind = "<d:resourcetype><d:collection/></d:resourcetype>" if size is None else \
            f"<d:resourcetype/><d:getcontentlength>{size}</d:getcontentlength>"
        parts.append(f"<d:response><d:href>{href}</d:href><d:propstat><d:prop>{kind}</d:prop>"
                     "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>")
    return ('<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">' + "".join(parts) + "</d:multistatus>").encode()


def plain(data: bytes, *, claimed: int | None = None):
    def answer(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data) if claimed is None else claimed))
        handler.end_headers()
        handler.wfile.write(data)
    return answer


def dav_job(boss, space, url: str, **extra):
    return services.import_job_create(actor=boss, space_id=space.pk, target="/In", source_kind="webdav",
                                      source={"url": url, "username": "ann"}, secret="dav-secret", **extra)


def run_within(boss, job, seconds: float, on_hang=None):
    done = {}
    worker = threading.Thread(target=lambda: done.update(run=run_job(boss, job)))
    worker.start()
    worker.join(timeout=seconds)
    hung = worker.is_alive()
    if hung and on_hang is not None:
        on_hang()
        worker.join(timeout=60)
    assert not hung, f"the import did not end within {seconds} s"
    return done["run"]


def test_a_webdav_server_listing_folders_in_a_cycle_cannot_keep_a_run_listing_forever(boss, space, hostile):
    hostile.listing["/dav/"] = multistatus(("/dav/", None), ("/dav/a/", None))
    hostile.listing["/dav/a/"] = multistatus(("/dav/a/", None), ("/dav/b/", None), ("/dav/a/x.txt", 3))
    hostile.listing["/dav/b/"] = multistatus(("/dav/b/", None), ("/dav/a/", None))
    hostile.files["/dav/a/x.txt"] = plain(b"xyz")
    job = dav_job(boss, space, hostile.url + "/dav/")
    run = run_within(boss, job, 30, on_hang=hostile.listing.clear)
    assert len([a for a in hostile.asked if a[0] == "PROPFIND"]) < 10
    assert run.state in (RunState.FINISHED, RunState.FAILED)


def test_webdav_hrefs_outside_the_base_folder_are_neither_listed_nor_fetched(boss, space, hostile):
    hostile.listing["/dav/"] = multistatus(
        ("/dav/", None), ("/dav/ok.txt", 2), ("/other/secret.txt", 6), ("/dav/../other/secret2.txt", 6),
        ("/dav/%2e%2e/other/secret3.txt", 6), ("http://203.0.113.5/dav/far.txt", 3), ("/dav/sub/../../x.txt", 1))
    hostile.files["/dav/ok.txt"] = plain(b"ok")
    hostile.files["/dav/far.txt"] = plain(b"far")
    run = run_job(boss, dav_job(boss, space, hostile.url + "/dav/"))
    fetched = [path for method, path, _ in hostile.asked if method == "GET"]
    assert all(path.startswith("/dav/") and "/../" not in path and "%2e" not in path.lower() for path in fetched), \
        fetched
    assert not any(".." in path for path in ImportItem.objects.filter(run=run).values_list("path", flat=True))
    assert all(path.startswith("/In/") for path in live_paths(space))


def test_a_webdav_server_that_sends_far_more_than_it_listed_is_cut_off_and_the_file_fails(
        boss, space, hostile):
    total = 256 * 1024 * 1024

    def flood(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        chunk = b"F" * (1024 * 1024)
        try:
            for _ in range(total // len(chunk)):
                handler.wfile.write(chunk)
                hostile.sent += len(chunk)
        except OSError:   # the client hung up: what it wanted
            pass

    hostile.listing["/dav/"] = multistatus(("/dav/", None), ("/dav/small.txt", 10))
    hostile.files["/dav/small.txt"] = flood
    run = run_job(boss, dav_job(boss, space, hostile.url + "/dav/"))
    item = ImportItem.objects.get(run=run, path="small.txt")
    assert item.outcome == "failed"
    assert hostile.sent < total // 4, f"the import read {hostile.sent} bytes of a file listed as 10"
    assert live_paths(space) == set()


def test_a_source_sending_fewer_bytes_than_it_listed_makes_no_version(boss, space, hostile):
    hostile.listing["/dav/"] = multistatus(("/dav/", None), ("/dav/short.txt", 1000))
    hostile.files["/dav/short.txt"] = plain(b"only this", claimed=9)
    run = run_job(boss, dav_job(boss, space, hostile.url + "/dav/"))
    assert outcomes(run) == {"short.txt": "failed"}
    assert live_paths(space) == set()


def test_a_webdav_redirect_to_another_server_never_carries_the_password(boss, space, hostile):
    other = Hostile()
    try:
        other.files["/loot.txt"] = plain(b"loot")

        def redirect(handler):
            handler.send_response(302)
            handler.send_header("Location", other.url + "/loot.txt")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        hostile.listing["/dav/"] = multistatus(("/dav/", None), ("/dav/r.txt", 4))
        hostile.files["/dav/r.txt"] = redirect
        run_job(boss, dav_job(boss, space, hostile.url + "/dav/"))
        assert all(auth == "" for _, _, auth in other.asked), other.asked
        assert any(auth for _, _, auth in hostile.asked)
    finally:
        other.stop()


# --- quota and rights during a run -----------------------------------------------------------

def test_many_concurrent_files_never_take_the_space_past_its_quota(boss, space, roots):
    Space.objects.filter(pk=space.pk).update(quota_bytes=10_000)
    for n in range(40):
        write(roots, f"f{n:02}.bin", bytes([n]) * 1000)
    run = run_job(boss, folder_job(boss, space, roots, concurrency=8))
    space.refresh_from_db()
    copied = ImportItem.objects.filter(run=run, outcome="copied").count()
    assert copied == 10, outcomes(run)
    assert space.used_bytes <= space.quota_bytes


def test_a_job_whose_creator_is_no_longer_an_administrator_imports_nothing(boss, space, roots):
    write(roots, "nas/payroll.xlsx", b"server-side folder the creator may no longer read")
    job = folder_job(boss, space, roots)
    type(boss).objects.filter(pk=boss.pk).update(is_superuser=False, is_staff=False)
    run = _run_as_schedule(job)
    assert run.state == RunState.FAILED, outcomes(run)
    assert live_paths(space) == set()


def test_a_job_whose_creator_was_disabled_imports_nothing(boss, space, roots):
    write(roots, "nas/payroll.xlsx", b"x")
    job = folder_job(boss, space, roots)
    type(boss).objects.filter(pk=boss.pk).update(is_active=False)
    run = _run_as_schedule(job)
    assert run.state == RunState.FAILED
    assert live_paths(space) == set()


def _run_as_schedule(job) -> ImportRun:
    run = services.import_run_start(actor=None, job_id=job.pk, queue=False)
    runner.run_execute(run.pk)
    run.refresh_from_db()
    return run


def test_a_creator_demoted_mid_run_gets_no_further_file_imported(boss, space, roots, monkeypatch):
    for n in range(6):
        write(roots, f"f{n}.txt", b"file %d" % n)
    job = folder_job(boss, space, roots, concurrency=1)
    real_commit, calls = runner._commit, []

    def copy_then_demote(context, arrived):  # each file its own transaction; the change after the second
        real_commit(context, arrived)
        calls.append(arrived)
        if len(calls) == 2:
            type(boss).objects.filter(pk=boss.pk).update(is_superuser=False)

    monkeypatch.setattr(runner, "COMMIT_BATCH", 1)
    monkeypatch.setattr(runner, "_commit", copy_then_demote)
    run = run_job(boss, job)
    assert len(live_paths(space)) == 2, live_paths(space)
    assert ImportItem.objects.filter(run=run, outcome="copied").count() == 2


def test_a_creator_who_lost_write_access_mid_run_gets_no_further_file_imported(boss, space, roots,
                                                                               monkeypatch):
    for n in range(6):
        write(roots, f"f{n}.txt", b"file %d" % n)
    job = folder_job(boss, space, roots, concurrency=1)
    real_commit, calls = runner._commit, []

    def copy_then_remove(context, arrived):  # each file its own transaction; the change after the second
        real_commit(context, arrived)
        calls.append(arrived)
        if len(calls) == 2:
            Membership.objects.filter(space=space, user=boss).update(role="viewer")

    monkeypatch.setattr(runner, "COMMIT_BATCH", 1)
    monkeypatch.setattr(runner, "_commit", copy_then_remove)
    run = run_job(boss, job)
    assert len(live_paths(space)) == 2
    assert ImportItem.objects.filter(run=run, outcome="copied").count() == 2


# --- secrets, the report, the console ------------------------------------------------------

def console(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def test_source_secrets_appear_in_no_page_report_or_audit_event(boss, space, seaweed, bucket, webdav):
    name, client = bucket
    client.put_object(Bucket=name, Key="a.txt", Body=b"a")
    s3 = services.import_job_create(actor=boss, space_id=space.pk, target="/S3", source_kind="s3",
                                    source=s3_source(seaweed, name), secret=seaweed.secret_key)
    folder, url, user, password = webdav
    write(folder, "b.txt", b"b")
    dav = services.import_job_create(actor=boss, space_id=space.pk, target="/Dav", source_kind="webdav",
                                     source={"url": url, "username": user}, secret=password)
    runs = [run_job(boss, s3), run_job(boss, dav)]
    browser = console(boss)
    pages = [browser.get("/manage/imports/")] + [browser.get(f"/manage/imports/{j.pk}/") for j in (s3, dav)]
    pages += [browser.get(f"/manage/imports/runs/{r.pk}/progress/") for r in runs]
    pages += [browser.get(f"/manage/imports/runs/{r.pk}/report.csv") for r in runs]
    texts = [b"".join(p.streaming_content) if p.streaming else p.content for p in pages]
    assert all(p.status_code == 200 for p in pages)
    texts += [str(e.details).encode() for e in AuditEvent.objects.all()]
    texts += [str(job.source).encode() for job in ImportJob.objects.all()]
    for secret in (seaweed.secret_key, password):
        assert not [t for t in texts if secret.encode() in t]


def test_a_webdav_address_carrying_a_password_is_refused(boss, space, webdav):
    folder, url, user, password = webdav
    with_password = url.replace("http://", f"http://{user}:{password}@")
    with pytest.raises(InvalidInput):
        services.import_job_create(actor=boss, space_id=space.pk, target="/Dav", source_kind="webdav",
                                   source={"url": with_password})
    assert not ImportJob.objects.exists()


FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx=1"]


def test_file_names_in_the_csv_report_never_start_a_formula(boss, space, roots):
    for name in FORMULAS:
        write(roots, name, b"f")
    write(roots, "..\\evil.txt", b"refused name")
    run = run_job(boss, folder_job(boss, space, roots))
    response = console(boss).get(f"/manage/imports/runs/{run.pk}/report.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    cells = [cell for row in rows[1:] for cell in (row[0], row[4])]
    assert len(rows) == len(FORMULAS) + 2
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], cells


IMPORT_PAGES = ["/manage/imports/", "/manage/imports/{job}/", "/manage/imports/runs/{run}/progress/",
                "/manage/imports/runs/{run}/report.csv"]
IMPORT_ACTIONS = ["/manage/imports/new/", "/manage/imports/{job}/run/", "/manage/imports/{job}/delete/"]


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_people_who_are_not_administrators_reach_no_import_page_or_action(boss, alice, space, roots, who):
    write(roots, "a.txt", b"a")
    job = folder_job(boss, space, roots)
    run = run_job(boss, job)
    if who == "staff":
        type(alice).objects.filter(pk=alice.pk).update(is_staff=True)
    Membership.objects.create(space=space, user=alice, role="owner")
    browser = console(alice)
    for page in IMPORT_PAGES:
        assert browser.get(page.format(job=job.pk, run=run.pk)).status_code == 404, page
    for action in IMPORT_ACTIONS:
        response = browser.post(action.format(job=job.pk), {"space": space.pk, "source_kind": "folder",
                                                            "folder_path": str(roots)})
        assert response.status_code == 404, action
    assert ImportJob.objects.count() == 1 and ImportRun.objects.count() == 1


def test_a_forged_cross_site_post_cannot_start_or_delete_an_import(boss, space, roots):
    job = folder_job(boss, space, roots)
    browser = console(boss, enforce_csrf_checks=True)
    for action in IMPORT_ACTIONS:
        assert browser.post(action.format(job=job.pk), {"source_kind": "folder"}).status_code == 403
    assert ImportJob.objects.count() == 1 and not ImportRun.objects.exists()


def test_a_webdav_listing_far_larger_than_any_folder_is_cut_off_and_the_run_fails(boss, space, hostile,
                                                                                 monkeypatch):
    from portal.imports import sources

    monkeypatch.setattr(sources, "PROPFIND_MAX_BYTES", 1024 * 1024)
    total = 64 * 1024 * 1024
    def endless(handler):
        handler.send_response(207)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        entry = b"<d:response><d:href>/dav/x</d:href></d:response>" * 1000
        try:
            handler.wfile.write(b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:">')
            while hostile.sent < total:
                handler.wfile.write(entry)
                hostile.sent += len(entry)
        except OSError:
            pass

    hostile.propfind = endless
    hostile.listing["/dav/"] = multistatus(("/dav/", None))   # answered at the job's creation
    job = dav_job(boss, space, hostile.url + "/dav/")
    hostile.listing.clear()
    run = run_job(boss, job)
    assert run.state == RunState.FAILED and "larger" in run.error
    assert hostile.sent < total // 2


def test_a_folder_swapped_for_a_link_while_the_source_is_listed_shows_nothing_from_outside(
        boss, space, roots, tmp_path, monkeypatch):
    """Not even names or sizes of what lies outside the roots reach the items and the CSV report."""
    outside = tmp_path / "outside"
    write(outside, "salaries-2026.xlsx", b"outside")
    write(roots, "a.txt", b"a")
    write(roots, "sub/inside.txt", b"inside")
    job = folder_job(boss, space, roots, concurrency=1)
    real_scandir, calls = os.scandir, []

    def hooked_scandir(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:   # the root was listed; "sub" is next: it becomes a link right now
            os.rename(roots / "sub", roots / "sub-old")
            os.symlink(outside, roots / "sub", target_is_directory=True)
        return real_scandir(*args, **kwargs)

    monkeypatch.setattr(os, "scandir", hooked_scandir)
    run = run_job(boss, job)
    monkeypatch.undo()

    assert len(calls) >= 2
    assert not [path for path in outcomes(run) if "salaries" in path]
    assert live_paths(space) == {"/In/a.txt"}


@pytest.mark.parametrize("change", ["trashed", "archived"])
def test_a_job_into_a_space_trashed_or_archived_since_imports_nothing(boss, space, roots, change):
    from django.utils import timezone

    write(roots, "a.txt", b"a")
    job = folder_job(boss, space, roots)
    Space.objects.filter(pk=space.pk).update(**{"deleted_at" if change == "trashed" else "archived_at":
                                                timezone.now()})
    run = _run_as_schedule(job)
    assert run.state == RunState.FAILED or not ImportItem.objects.filter(run=run, outcome="copied").exists()
    assert live_paths(space) == set()
