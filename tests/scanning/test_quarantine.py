"""Flagged files are quarantined: no download, preview, zip or share; the
uploader is told; administrators release or delete them. A scanner that
cannot answer fails open for members (by default) and closed for uploads
through share links, and every decision is audited."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.audit.actions import Action
from portal.core.errors import Forbidden
from portal.files.models import FileVersion, Node
from portal.files.selectors import child_named
from portal.files.tasks import hash_blob
from portal.scanning import services
from portal.scanning.models import ScanState, ScanVerdict
from portal.scanning.tasks import scan_version
from tests.helpers import assert_error, events, last_event
from tests.scanning.conftest import BODY_SIGNATURE, CLEAN, HASH_SIGNATURE, INFECTED, MARKER
from tests.shares.conftest import body

pytestmark = pytest.mark.django_db


def version_of(meta: dict) -> FileVersion:
    return FileVersion.objects.get(node_id=meta["id"], number=meta["version"])


def scanned(meta_or_version, capture=None) -> ScanVerdict:
    """Run the Celery task the upload queued (no worker: ``apply`` runs it here)."""
    version = meta_or_version if isinstance(meta_or_version, FileVersion) else version_of(meta_or_version)
    if capture is not None:
        with capture(execute=True):
            scan_version.apply(args=[version.pk]).get()
    else:
        scan_version.apply(args=[version.pk]).get()
    return ScanVerdict.objects.get(version=version)


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


@pytest.fixture
def infected(clamd, client, team, upload, django_capture_on_commit_callbacks, mailoutbox):
    """/Inbox/tool.bin holding the test payload, scanned and flagged."""
    meta = upload(client, team, "/Inbox/tool.bin", INFECTED)
    verdict = scanned(meta, django_capture_on_commit_callbacks)
    assert verdict.state == ScanState.FLAGGED, verdict.error
    return meta


# --- the acceptance case ---------------------------------------------------------------------

def test_an_infected_upload_is_quarantined_and_cannot_be_downloaded_or_shared(infected, client, alice, team,
                                                                              mailoutbox):
    verdict = ScanVerdict.objects.get(version=version_of(infected))
    assert (verdict.scanner, verdict.signature) == ("clamav", HASH_SIGNATURE)
    refused = assert_error(client.get(f"/api/v1/files/{infected['id']}/content"), 403, "quarantined")
    assert HASH_SIGNATURE in refused["message"] and refused["detail"]["state"] == "flagged"
    assert_error(client.post("/api/v1/shares", {"node": infected["id"], "permission": "download"}, format="json"),
                 403, "quarantined")
    meta = client.get(f"/api/v1/files/{infected['id']}").json()
    assert meta["scan"] == {"state": "flagged", "signature": HASH_SIGNATURE, "quarantined": True}
    flagged = last_event(Action.SCAN_FLAGGED, target_id=str(infected["id"]))
    assert flagged.details["signature"] == HASH_SIGNATURE and flagged.space_id == team.id
    assert last_event(Action.SCAN_QUARANTINED, target_id=str(infected["id"]))
    assert not events(Action.FILE_DOWNLOADED) and not events(Action.SHARE_CREATED)
    [mail] = mailoutbox
    assert mail.to == [alice.email] and "/Inbox/tool.bin" in mail.subject and HASH_SIGNATURE in mail.body


def test_a_clean_upload_downloads_and_shares_as_before(clamd, client, team, upload):
    meta = upload(client, team, "/clean.txt", CLEAN)
    assert scanned(meta).state == ScanState.CLEAN
    answer = client.get(f"/api/v1/files/{meta['id']}/content")
    assert answer.status_code == 200 and body(answer) == CLEAN
    assert client.post("/api/v1/shares", {"node": meta["id"], "permission": "download"},
                       format="json").status_code == 201
    assert client.get(f"/api/v1/files/{meta['id']}").json()["scan"]["state"] == "clean"
    assert not events(Action.SCAN_FLAGGED)


def test_a_body_signature_inside_an_ordinary_looking_file_is_found(clamd, client, team, upload):
    meta = upload(client, team, "/notes.txt", CLEAN + MARKER + CLEAN)
    verdict = scanned(meta)
    assert (verdict.state, verdict.signature) == (ScanState.FLAGGED, BODY_SIGNATURE)


def test_scanning_twice_changes_nothing_the_second_time(infected):
    before = len(events(Action.SCAN_FLAGGED))
    assert scanned(infected).state == ScanState.FLAGGED
    assert len(events(Action.SCAN_FLAGGED)) == before


def test_outsiders_and_bad_input_get_what_they_got_before(infected, signed_in, bob, client):
    assert_error(signed_in(bob).get(f"/api/v1/files/{infected['id']}/content"), 404, "not_found")
    assert_error(signed_in(bob).post("/api/v1/shares", {"node": infected["id"], "permission": "download"},
                                     format="json"), 404, "not_found")
    assert client.get(f"/api/v1/files/{infected['id']}/content?version=x").status_code == 400


# --- zips, links, copies ----------------------------------------------------------------------

def test_a_folder_zip_leaves_the_quarantined_file_out(infected, client, team, upload):
    upload(client, team, "/Inbox/fine.txt", CLEAN)
    answer = client.get(f"/api/v1/spaces/{team.id}/zip/Inbox")
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body(answer)))
    assert archive.namelist() == ["fine.txt"] and archive.read("fine.txt") == CLEAN


def test_an_existing_link_refuses_the_file_once_it_is_flagged(clamd, client, team, upload, share, visitor):
    meta = upload(client, team, "/Inbox/tool.bin", INFECTED)
    file_link = share(meta["id"])                       # shared while its scan was still pending
    folder_link = share(Node.objects.get(pk=meta["id"]).parent_id)
    assert scanned(meta).state == ScanState.FLAGGED
    browser = visitor()
    refused = browser.get(f"/s/{file_link['token']}/download", HTTP_ACCEPT="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "quarantined"
    page = browser.get(f"/s/{file_link['token']}/download")
    assert page.status_code == 403 and b"quarantined" in page.content
    assert browser.get(f"/s/{file_link['token']}/preview").status_code == 403
    opened = browser.get(f"/s/{file_link['token']}")
    assert opened.status_code == 200   # the page itself still opens, saying why there is nothing to take
    assert b"held by the content scanner" in opened.content
    assert b'id="download"' not in opened.content and b"share-preview" not in opened.content
    zipped = browser.get(f"/s/{folder_link['token']}/zip")
    assert zipped.status_code == 200 and zipfile.ZipFile(io.BytesIO(body(zipped))).namelist() == []
    assert [event.details for event in events(Action.SHARE_DOWNLOADED)] == [{"zip": True}]
    assert not events(Action.SHARE_PREVIEWED)


def test_a_copy_of_a_quarantined_file_is_quarantined_too(infected, client):
    copied = client.post(f"/api/v1/files/{infected['id']}/copy", {"path": "/elsewhere.bin"}, format="json")
    assert copied.status_code == 201, copied.content
    assert_error(client.get(f"/api/v1/files/{copied.json()['id']}/content"), 403, "quarantined")
    assert copied.json()["scan"]["quarantined"] is True


def test_a_listing_shows_each_files_scan(infected, client, team, upload):
    upload(client, team, "/Inbox/fine.txt", CLEAN)
    listing = client.get(f"/api/v1/spaces/{team.id}/tree/Inbox").json()
    scans = {entry["name"]: entry["scan"] for entry in listing["results"]}
    assert scans["tool.bin"]["state"] == "flagged"
    assert scans["fine.txt"] == {"state": "pending", "signature": None, "quarantined": False}


# --- the other scanners --------------------------------------------------------------------------

def test_a_blocked_extension_is_flagged_without_clamd(no_clamd, client, team, upload):
    meta = upload(client, team, "/invoice.pdf.scr", CLEAN)
    verdict = scanned(meta)
    assert (verdict.state, verdict.scanner) == (ScanState.FLAGGED, "extension")
    assert_error(client.get(f"/api/v1/files/{meta['id']}/content"), 403, "quarantined")


def test_a_blocklisted_digest_is_flagged(no_clamd, settings, client, team, upload):
    import hashlib

    settings.SCAN_SHA256_BLOCKLIST = [hashlib.sha256(CLEAN).hexdigest()]
    meta = upload(client, team, "/harmless-looking.txt", CLEAN)
    verdict = scanned(meta)
    assert (verdict.state, verdict.scanner) == (ScanState.FLAGGED, "sha256-blocklist")


# --- when the scanner cannot answer -------------------------------------------------------------

def test_an_unreachable_scanner_fails_open_for_members_and_says_so(clamd_down, client, team, upload):
    meta = upload(client, team, "/report.txt", CLEAN)
    assert client.get(f"/api/v1/files/{meta['id']}/content").status_code == 200   # pending: allowed
    verdict = scanned(meta)
    assert verdict.state == ScanState.ERROR and "not answering" in verdict.error
    assert client.get(f"/api/v1/files/{meta['id']}/content").status_code == 200
    assert last_event(Action.SCAN_ERROR, target_id=str(meta["id"])).details["scanner"] == "clamav"
    opened = last_event(Action.SCAN_FAILED_OPEN, target_id=str(meta["id"]))
    assert opened.details["policy"] == "open" and not events(Action.SCAN_FAILED_CLOSED)


def test_the_fail_mode_can_hold_members_uploads_too(clamd_down, settings, client, team, upload):
    settings.SCAN_FAIL_MODE = "closed"
    meta = upload(client, team, "/report.txt", CLEAN)
    assert_error(client.get(f"/api/v1/files/{meta['id']}/content"), 403, "quarantined")   # pending: held
    assert scanned(meta).state == ScanState.ERROR
    assert_error(client.get(f"/api/v1/files/{meta['id']}/content"), 403, "quarantined")
    assert last_event(Action.SCAN_FAILED_CLOSED, target_id=str(meta["id"])).details["policy"] == "closed"


def _dropped(share, shared_folder, visitor, data=CLEAN, name="dropped.txt") -> Node:
    folder, _ = shared_folder
    link = share(folder.id, permission="upload")
    answer = visitor().post(f"/s/{link['token']}/upload",
                            {"file": SimpleUploadedFile(name, data, content_type="application/octet-stream")})
    assert answer.status_code == 201, answer.content
    return child_named(folder, name)


def test_a_share_link_upload_is_held_until_scanned_and_fails_closed(clamd_down, share, shared_folder, visitor,
                                                                     client):
    node = _dropped(share, shared_folder, visitor)
    held = assert_error(client.get(f"/api/v1/files/{node.id}/content"), 403, "quarantined")
    assert held["detail"]["state"] == "pending"
    verdict = scanned(node.current_version)
    assert verdict.state == ScanState.ERROR and verdict.via_share and verdict.fail_closed
    assert_error(client.get(f"/api/v1/files/{node.id}/content"), 403, "quarantined")
    closed = last_event(Action.SCAN_FAILED_CLOSED, target_id=str(node.id))
    assert closed.details["via_share"] is True and closed.details["policy"] == "closed"


def test_a_share_link_upload_is_released_by_a_clean_scan(clamd, share, shared_folder, visitor, client):
    node = _dropped(share, shared_folder, visitor)
    assert scanned(node.current_version).state == ScanState.CLEAN
    assert client.get(f"/api/v1/files/{node.id}/content").status_code == 200


def test_an_infected_share_link_upload_is_flagged(clamd, share, shared_folder, visitor, client):
    node = _dropped(share, shared_folder, visitor, data=INFECTED, name="gift.bin")
    assert scanned(node.current_version).state == ScanState.FLAGGED
    assert_error(client.get(f"/api/v1/files/{node.id}/content"), 403, "quarantined")


# --- the review queue ------------------------------------------------------------------------------

def test_an_administrator_releases_a_file_and_it_downloads_again(infected, admin, client):
    verdict = ScanVerdict.objects.get(version=version_of(infected))
    services.quarantine_release(actor=admin, verdict_id=verdict.pk)
    verdict.refresh_from_db()
    assert (verdict.state, verdict.reviewed_by) == (ScanState.RELEASED, admin)
    assert body(client.get(f"/api/v1/files/{infected['id']}/content")) == INFECTED
    assert client.post("/api/v1/shares", {"node": infected["id"], "permission": "download"},
                       format="json").status_code == 201
    assert last_event(Action.SCAN_RELEASED, target_id=str(infected["id"])).actor == admin


def test_only_administrators_review_and_only_what_is_quarantined(infected, alice, admin, clamd, client, team,
                                                                 upload):
    verdict = ScanVerdict.objects.get(version=version_of(infected))
    with pytest.raises(Forbidden):
        services.quarantine_release(actor=alice, verdict_id=verdict.pk)
    clean = scanned(upload(client, team, "/clean.txt", CLEAN))
    with pytest.raises(Exception, match="not quarantined"):
        services.quarantine_delete(actor=admin, verdict_id=clean.pk)


def test_the_admin_queue_releases_through_the_service(infected, admin):
    from django.test import Client

    browser = Client()
    browser.force_login(admin)
    verdict = ScanVerdict.objects.get(version=version_of(infected))
    listing = browser.get("/admin/scanning/scanverdict/?state__exact=flagged")
    assert listing.status_code == 200 and b"/Inbox/tool.bin v1" in listing.content
    answer = browser.post("/admin/scanning/scanverdict/", {"action": "release", "_selected_action": [verdict.pk]})
    assert answer.status_code == 302
    verdict.refresh_from_db()
    assert verdict.state == ScanState.RELEASED
    assert last_event(Action.SCAN_RELEASED).actor == admin


def test_an_administrator_deletes_the_flagged_version_and_its_other_copies_stay_quarantined(infected, admin, client,
                                                                                           team, upload):
    copied = client.post(f"/api/v1/files/{infected['id']}/copy", {"path": "/copy.bin"}, format="json").json()
    older = upload(client, team, "/report.bin", CLEAN)
    newer = upload(client, team, "/report.bin", INFECTED)
    scanned(newer)
    for meta in (infected, newer):   # the hashing task stores identical bytes once
        hash_blob.apply(args=[version_of(meta).blob_id])
    assert version_of(newer).blob_id == version_of(infected).blob_id
    used_before = type(team).objects.get(pk=team.pk).used_bytes
    verdict = ScanVerdict.objects.get(version=version_of(infected))
    services.quarantine_delete(actor=admin, verdict_id=verdict.pk)

    assert not Node.objects.filter(pk=infected["id"]).exists()          # the one the administrator chose
    assert type(team).objects.get(pk=team.pk).used_bytes == used_before - len(INFECTED)
    verdict.refresh_from_db()
    assert verdict.state == ScanState.DELETED and verdict.version is None
    assert len(events(Action.SCAN_DELETED)) == 1 and events(Action.FILE_PURGED)
    # The copy (no verdict of its own until now) and the other flagged version stay, quarantined, in the queue.
    for meta in (copied, newer):
        assert_error(client.get(f"/api/v1/files/{meta['id']}/content"), 403, "quarantined")
    copy_verdict = ScanVerdict.objects.get(version__node_id=copied["id"])
    assert (copy_verdict.state, copy_verdict.scanner, copy_verdict.signature) == (
        ScanState.FLAGGED, verdict.scanner, verdict.signature)
    assert Node.objects.get(pk=older["id"]).current_version.number == 2
