"""Ransomware detection (portal.governance.ransomware): a simulated attack through
WebDAV is flagged within 50 files, its app password, API token and session stop
working, the space's managers and the administrators are told, and the restore
to the alert's T brings every file back byte for byte. A heavy but normal user
is not flagged; encrypted-looking rewrites alone and a share link's uploads are;
the console's list and the restore link refuse outsiders and odd input."""

from __future__ import annotations

import base64
import io
import os
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.models import PersonalAccessToken
from portal.accounts.services import token_issue
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.core.errors import Forbidden
from portal.files.models import FileVersion, Node
from portal.files.services import point_in_time, tree
from portal.files.services.batch import StoredFile, files_put_many
from portal.files.services.direct import file_put
from portal.files.services.maintenance import blob_hash
from portal.files.services.common import new_blob_key
from portal.governance import ransomware
from portal.governance.services_ransomware import ransomware_alert_list
from portal.notify.models import Kind, Notification
from portal.spaces.models import Membership
from portal.storage import get_store
from tests.adminpanel.console_support import assert_portal_404, client_for
from tests.dav.test_mount import call

pytestmark = pytest.mark.django_db(transaction=True)  # detection runs once the writes commit, as in production

ATTACK_FILES = 500


@pytest.fixture(autouse=True)
def clean_windows():
    """Detection state lives in Redis beyond a test's database: start each test without any."""
    def clear():
        keys = list(ransomware.client().scan_iter(f"{ransomware.PREFIX}*"))
        if keys:
            ransomware.client().delete(*keys)
    clear()
    yield
    clear()


@pytest.fixture
def eager():
    """Tasks run in the test's process, as a worker would run them (hashing, the response, notifications)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def text(i: int) -> bytes:
    return (f"Minutes of meeting {i}: budget, hiring, the office move.\n" * (4 + i % 7)).encode()


def seed(actor, space, files: dict[str, bytes]) -> None:
    """Many files in one batch (files_put_many: one transaction, its events through ``events_recorded``)."""
    stored = []
    for path, data in files.items():
        key = new_blob_key()
        get_store().put(key, io.BytesIO(data))
        stored.append(StoredFile(tag=path, path=path, key=key, size=len(data)))
    assert not files_put_many(actor=actor, space_id=space.pk, files=stored).refused
    an_hour_ago = timezone.now() - timedelta(hours=1)  # they were there long before anything happened to them
    Node.objects.filter(space=space).update(created_at=an_hour_ago)
    FileVersion.objects.filter(node__space=space).update(created_at=an_hour_ago)


def alerts() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.GOVERNANCE_RANSOMWARE_SUSPECTED).order_by("id"))


def read(node: Node) -> bytes:
    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read()


# --- The attack ----------------------------------------------------------------------------------------------

def test_a_webdav_attack_is_flagged_suspended_reported_and_undone(alice, bob, admin, make_user, team, put, settings):
    from django.core.wsgi import get_wsgi_application

    from portal.celery import app as celery
    from portal.dav.app import DavDispatcher

    originals = {f"doc-{i:03}.txt": text(i) for i in range(ATTACK_FILES)}
    started = time.monotonic()
    seed(alice, team, {f"/Docs/{name}": data for name, data in originals.items()})
    setup_seconds = time.monotonic() - started
    Membership.objects.create(space=team, user=bob, role="viewer")
    mallory = make_user(username="mallory")
    Membership.objects.create(space=team, user=mallory, role="editor")
    _, app_password = token_issue(actor=mallory, owner=mallory, name="webdav")
    _, api_token = token_issue(actor=mallory, owner=mallory, name="cli")
    browser = client_for(mallory)
    assert browser.get("/notifications/").status_code == 200

    auth = "Basic " + base64.b64encode(f"mallory:{app_password}".encode()).decode()
    dav_app, base = DavDispatcher(get_wsgi_application()), f"/dav/{team.slug}/Docs"

    def dav(method, path, body=b"", **headers) -> str:
        status, _, _ = call(dav_app, path, method, HTTP_AUTHORIZATION=auth, CONTENT_LENGTH=str(len(body)),
                            **{"wsgi.input": io.BytesIO(body)}, **headers)
        return status[:3]

    celery.conf.task_always_eager = True
    try:
        started, encrypted, renamed, refused = time.monotonic(), 0, 0, None
        assert dav("PUT", f"{base}/HOW_TO_DECRYPT.txt", b"All your files are encrypted. Pay 1 BTC.") == "201"
        for name in originals:  # the script: encrypt each file in place, then rename it
            status = dav("PUT", f"{base}/{name}", os.urandom(1024))
            if status != "204":
                refused = status
                break
            encrypted += 1
            status = dav("MOVE", f"{base}/{name}", HTTP_DESTINATION=f"http://127.0.0.1{base}/{name}.locked")
            if status != "201":
                refused = status
                break
            renamed += 1
        attack_seconds = time.monotonic() - started
    finally:
        celery.conf.task_always_eager = False
    print(f"\nsetup of {ATTACK_FILES} files {setup_seconds:.1f} s; flagged after {encrypted} files, "
          f"attack {attack_seconds:.1f} s")

    # Detected within 50 files; every credential of the actor refused from then on.
    assert refused == "401" and 1 <= encrypted <= 50
    assert dav("PROPFIND", f"{base}/", HTTP_DEPTH="0") == "401"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert api.get("/api/v1/spaces/").status_code == 401
    assert browser.get("/notifications/").status_code == 302  # the session is gone
    assert not PersonalAccessToken.objects.filter(user=mallory, revoked_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action=Action.TOKEN_REVOKED, details__by=Action.GOVERNANCE_RANSOMWARE_SUSPECTED,
                                     target_id__in=[str(t.pk) for t in mallory.access_tokens.all()]).count() == 2

    # One alert for the space: the suspect, T before the first write, the folder, the counts.
    [alert] = alerts()
    first_write = AuditEvent.objects.filter(actor=mallory, action=Action.FILE_UPLOADED).order_by("id").first()
    assert alert.space_id == team.pk and alert.target_label == "mallory" and alert.details["suspect"] == \
        f"user:{mallory.pk}"
    assert datetime.fromisoformat(alert.details["at"]) < first_write.created_at
    assert abs(datetime.fromisoformat(alert.details["first_at"]) - first_write.created_at) < timedelta(milliseconds=1)
    assert alert.details["path"] == "/Docs" and alert.details["response"] == "suspend"
    assert alert.details["notes"] == 1 and alert.details["extensions"] == renamed
    assert alert.details["entropy"] == encrypted and alert.details["tokens"] == 2 and alert.details["sessions"] == 1

    # The owner and the administrator are told, with the restore link; not the suspect, not a viewer.
    told = Notification.objects.filter(kind=Kind.RANSOMWARE_SUSPECTED)
    assert sorted(told.values_list("user__username", flat=True)) == sorted(["alice", admin.username])
    url = told.get(user=alice).url
    query = parse_qs(urlparse(url).query)
    assert urlparse(url).path == reverse("web:point-restore", args=[team.pk])
    assert query == {"at": [alert.details["at"]], "path": ["/Docs"]}
    page = client_for(alice).get(url)
    assert page.status_code == 200 and b'value="/Docs"' in page.content

    # The restore to the alert's T brings every file back byte for byte; the note goes to the trash.
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=query["at"][0], path="/Docs",
                                            queue=False)
    assert run.state == "done" and run.counts["content"] == encrypted and run.counts["place"] == renamed
    folder = Node.objects.get(space=team, name="Docs")
    live = {node.name: node for node in Node.objects.select_related("current_version__blob").filter(
        parent=folder, trashed_at=None)}
    assert sorted(live) == sorted(originals)
    assert all(read(live[name]) == data for name, data in originals.items())
    assert Node.objects.get(parent=folder, name="HOW_TO_DECRYPT.txt").trashed_at is not None
    assert len(alerts()) == 1  # the restore's own renames are not an attack


# --- Not an attack ----------------------------------------------------------------------------------------------

def test_a_heavy_normal_user_is_not_flagged(alice, team):
    token, _ = token_issue(actor=alice, owner=alice, name="sync")
    seed(alice, team, {f"/Import/notes-{i}.txt": text(i) for i in range(250)})  # a bulk upload of new text files
    seed(alice, team, {f"/Import/notes-{i}.txt": text(i) + b"One more line.\n" for i in range(20)})  # edits
    for blob_id in set(FileVersion.objects.filter(node__space=team).values_list("blob_id", flat=True)):
        blob_hash(blob_id)  # what the worker does with the batch's hashing message: the entropy check too
    for i in range(5):    # a few renames
        node = Node.objects.get(space=team, name=f"notes-{i}.txt")
        tree.node_rename(actor=alice, node_id=node.pk, name=f"notes-{i}-final.txt")
    [burst] = ransomware.bursts(f"user:{alice.pk}")  # the detector saw every change ...
    assert (burst.changes, burst.suspicious) == (25, 0)
    assert alerts() == []  # ... and found nothing to flag
    token.refresh_from_db()
    assert token.is_active


# --- Other signals and actors ---------------------------------------------------------------------------------

def test_encrypted_rewrites_alone_flag_the_writer_and_the_alert_policy_suspends_nothing(alice, bob, team, put,
                                                                                        eager, settings):
    settings.RANSOMWARE_RESPONSE = "alert"
    Membership.objects.create(space=team, user=bob, role="editor")
    token, _ = token_issue(actor=bob, owner=bob, name="cli")
    for i in range(12):
        put(f"/Notes/n{i}.md", text(i))
    for i in range(12):  # same names, no extension: only the bytes give it away
        put(f"/Notes/n{i}.md", os.urandom(2048), actor=bob)
    [alert] = alerts()
    assert alert.details["suspect"] == f"user:{bob.pk}" and alert.details["entropy"] == 10
    assert alert.details["response"] == "alert" and "tokens" not in alert.details
    token.refresh_from_db()
    assert token.is_active


def test_a_share_links_uploads_flag_and_revoke_the_link(alice, team, put, eager):
    from portal.shares.models import ShareLink
    from portal.shares.services import share_link_create

    tree.folder_create(actor=alice, space_id=team.pk, path="/Drop")
    link, _ = share_link_create(actor=alice, node_id=Node.objects.get(space=team, name="Drop").pk,
                                permission="upload")
    for i in range(10):  # what portal.shares.visits.upload records for a visitor's file
        data = os.urandom(512)
        file_put(actor=alice, space_id=team.pk, path=f"/Drop/f{i}.wncry", fileobj=io.BytesIO(data), size=len(data),
                 keep_both=True, holds_locks=False, details={"via_share": link.pk, "visitor": "anonymous"})
    [alert] = alerts()
    assert alert.details["suspect"] == f"link:{link.pk}" and alert.details["link_revoked"] is True
    assert ShareLink.objects.get(pk=link.pk).revoked_at is not None
    assert ransomware.bursts(f"user:{alice.pk}") == []  # the owner's own account is not the suspect


@pytest.mark.django_db  # nothing here waits for a commit: the cheaper rollback
def test_names_and_bytes_are_classified():
    assert ransomware.is_ransom_extension("q3.docx.LOCKED") and ransomware.is_ransom_extension("a.lockbit")
    assert not ransomware.is_ransom_extension("locked") and not ransomware.is_ransom_extension("report.docx")
    assert ransomware.is_ransom_note("HOW_TO_DECRYPT_FILES.html") and ransomware.is_ransom_note("README_FOR_DECRYPT.txt")
    assert not ransomware.is_ransom_note("README.md")
    assert ransomware.looks_random(os.urandom(300)) and not ransomware.looks_random(text(3) * 50)
    assert not ransomware.looks_random(os.urandom(100))  # too short to tell


# --- The console's list and the restore link ---------------------------------------------------------------------

@pytest.mark.django_db  # nothing here waits for a commit: the cheaper rollback
def test_the_console_lists_alerts_for_administrators_only(alice, admin, team, settings):
    AuditEvent.objects.create(action=Action.GOVERNANCE_RANSOMWARE_SUSPECTED, space=team, target_label="mallory",
                              details={"suspect": "user:99", "at": "2026-03-01T09:29:59+00:00",
                                       "first_at": "2026-03-01T09:30:00.5+00:00", "path": "/Docs", "changes": 40,
                                       "suspicious": 20, "response": "suspend"})
    page = client_for(admin).get(reverse("governance:page"))
    assert page.status_code == 200 and b'id="ransomware-alerts"' in page.content
    assert b"40 rewritten or renamed, 20 suspicious; response: sign-ins suspended" in page.content
    assert f'/spaces/{team.pk}/restore-to-point/?at=2026-03-01T09%3A29%3A59%2B00%3A00&amp;path=%2FDocs'.encode() \
        in page.content
    assert_portal_404(client_for(alice).get(reverse("governance:page")))
    with pytest.raises(Forbidden):
        ransomware_alert_list(actor=alice)


@pytest.mark.django_db  # nothing here waits for a commit: the cheaper rollback
def test_the_restore_page_takes_the_alerts_time_and_refuses_outsiders(alice, bob, team, settings):
    settings.TIME_ZONE = "UTC"
    url = reverse("web:point-restore", args=[team.pk])
    page = client_for(alice).get(url, {"at": "2026-03-01T09:29:59+08:00", "path": "/Docs"})
    assert page.status_code == 200 and b'value="2026-03-01T01:29:59"' in page.content
    odd = client_for(alice).get(url, {"at": "not a time", "path": "/Docs"})
    assert odd.status_code == 200 and b"not a time" not in odd.content  # the default time instead
    assert_portal_404(client_for(bob).get(url, {"at": "2026-03-01T09:29:59+08:00"}))
    assert Client().get(url).status_code == 302


@pytest.mark.django_db
def test_only_administrators_suspend_someone_elses_sign_ins(alice, bob, admin):
    from portal.accounts.services import user_credentials_suspend
    from portal.core.errors import NotFound

    token, _ = token_issue(actor=bob, owner=bob, name="cli")
    with pytest.raises(Forbidden):
        user_credentials_suspend(actor=alice, user_id=bob.pk, by="test")
    with pytest.raises(NotFound):
        user_credentials_suspend(actor=admin, user_id=10**9, by="test")
    token.refresh_from_db()
    assert token.is_active
    assert user_credentials_suspend(actor=admin, user_id=bob.pk, by="test") == {"tokens": 1, "sessions": 0}
    token.refresh_from_db()
    assert not token.is_active
