"""Quarantine follows the verdict's cause. The attack: alice uploaded the
bytes of bob's ``q3-report.pdf`` as ``totally.scr`` in her own space; the
extension verdict quarantined bob's identical report too, and the review
queue's Delete then purged it. A verdict by name now belongs to its version,
a verdict by content follows the bytes, and Delete removes only what the
administrator chose."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.test import Client

from portal.audit.actions import Action
from portal.files.models import FileVersion, Node
from portal.files.tasks import hash_blob
from portal.scanning.models import ScanState, ScanVerdict
from portal.scanning.tasks import scan_version
from portal.spaces.services import space_create
from tests.helpers import assert_error, events
from tests.shares.conftest import body

pytestmark = pytest.mark.django_db

REPORT = b"%PDF-1.4 Q3 revenue 12.4M, margin 31%\n" * 200


@pytest.fixture
def world(no_clamd, alice, bob, signed_in, upload):
    """bob's q3-report.pdf in his own space, scanned clean; alice's
    totally.scr with the same bytes in hers, flagged by extension; the
    hashing task has made both point at one stored blob."""
    finance = space_create(actor=bob, name="Finance")
    alices = space_create(actor=alice, name="Alice's")
    bob_client, alice_client = signed_in(bob), signed_in(alice)
    report = upload(bob_client, finance, "/Reports/q3-report.pdf", REPORT)
    assert scan(report) == ScanState.CLEAN
    bait = upload(alice_client, alices, "/totally.scr", REPORT)
    assert scan(bait) == ScanState.FLAGGED
    for meta in (report, bait):
        hash_blob.apply(args=[version_of(meta).blob_id])
    assert version_of(report).blob_id == version_of(bait).blob_id
    return {"bob": bob_client, "alice": alice_client, "finance": finance, "report": report, "bait": bait}


def version_of(meta: dict) -> FileVersion:
    return FileVersion.objects.get(node_id=meta["id"], number=meta["version"])


def scan(meta: dict) -> str:
    return scan_version.apply(args=[version_of(meta).pk]).get()


def verdict_of(meta: dict) -> ScanVerdict:
    return ScanVerdict.objects.get(version=version_of(meta))


def queue_action(admin, action: str, verdict: ScanVerdict):
    browser = Client()
    browser.force_login(admin)
    answer = browser.post("/admin/scanning/scanverdict/", {"action": action, "_selected_action": [verdict.pk]})
    assert answer.status_code == 302
    return answer


def test_an_extension_verdict_does_not_quarantine_a_colleagues_identical_file(world):
    bob, report = world["bob"], world["report"]
    assert body(bob.get(f"/api/v1/files/{report['id']}/content")) == REPORT
    assert bob.get(f"/api/v1/files/{report['id']}").json()["scan"]["quarantined"] is False
    listing = bob.get(f"/api/v1/spaces/{world['finance'].id}/tree/Reports").json()
    assert listing["results"][0]["scan"] == {"state": "clean", "signature": None, "quarantined": False}
    assert bob.post("/api/v1/shares", {"node": report["id"], "permission": "download"},
                    format="json").status_code == 201
    zipped = bob.get(f"/api/v1/spaces/{world['finance'].id}/zip/Reports")
    assert zipfile.ZipFile(io.BytesIO(body(zipped))).namelist() == ["q3-report.pdf"]
    # alice's bait is quarantined, as its name asks.
    assert_error(world["alice"].get(f"/api/v1/files/{world['bait']['id']}/content"), 403, "quarantined")


def test_deleting_the_bait_in_the_review_queue_never_purges_the_colleagues_file(world, admin):
    queue_action(admin, "delete_content", verdict_of(world["bait"]))
    assert not Node.objects.filter(pk=world["bait"]["id"]).exists()
    report = Node.objects.get(pk=world["report"]["id"])
    assert report.current_version.number == 1
    assert body(world["bob"].get(f"/api/v1/files/{report.id}/content")) == REPORT
    assert verdict_of(world["report"]).state == ScanState.CLEAN
    assert [event.target_label for event in events(Action.SCAN_DELETED)] == ["/totally.scr v1"]


def test_releasing_the_bait_releases_only_the_bait(world, admin):
    other = world["alice"].post(f"/api/v1/files/{world['bait']['id']}/copy", {"path": "/again.scr"},
                                format="json").json()
    queue_action(admin, "release", verdict_of(world["bait"]))
    assert verdict_of(world["bait"]).state == ScanState.RELEASED
    assert body(world["alice"].get(f"/api/v1/files/{world['bait']['id']}/content")) == REPORT
    # A copy still named .scr (no verdict of its own) follows the released verdict it came from.
    assert body(world["alice"].get(f"/api/v1/files/{other['id']}/content")) == REPORT


def test_a_copy_of_the_bait_keeps_the_name_verdict_only_while_its_name_is_blocked(world):
    alice, bait = world["alice"], world["bait"]
    as_scr = alice.post(f"/api/v1/files/{bait['id']}/copy", {"path": "/copy.scr"}, format="json").json()
    as_pdf = alice.post(f"/api/v1/files/{bait['id']}/copy", {"path": "/copy.pdf"}, format="json").json()
    assert_error(alice.get(f"/api/v1/files/{as_scr['id']}/content"), 403, "quarantined")
    assert body(alice.get(f"/api/v1/files/{as_pdf['id']}/content")) == REPORT


def test_a_content_verdict_follows_the_bytes_but_delete_removes_only_the_chosen_version(world, admin, settings,
                                                                                       alice, upload):
    """Once the digest is blocked, alice's new upload of it is flagged by
    content; bob's identical report is held too (the bytes are the finding),
    but deleting alice's upload leaves bob's in place, flagged in the queue."""
    settings.SCAN_SHA256_BLOCKLIST = [hashlib.sha256(REPORT).hexdigest()]
    dropped = upload(world["alice"], space_create(actor=alice, name="Inbox"), "/scan0001.pdf", REPORT)
    assert scan(dropped) == ScanState.FLAGGED and verdict_of(dropped).scanner == "sha256-blocklist"
    hash_blob.apply(args=[version_of(dropped).blob_id])
    report = world["report"]
    assert_error(world["bob"].get(f"/api/v1/files/{report['id']}/content"), 403, "quarantined")

    queue_action(admin, "delete_content", verdict_of(dropped))

    assert not Node.objects.filter(pk=dropped["id"]).exists()
    assert Node.objects.get(pk=report["id"]).current_version.number == 1      # never purged
    assert_error(world["bob"].get(f"/api/v1/files/{report['id']}/content"), 403, "quarantined")
    own = verdict_of(report)
    assert (own.state, own.scanner) == (ScanState.FLAGGED, "sha256-blocklist")
    # ... and it is the administrator's own decision, in the queue, to release it.
    queue_action(admin, "release", own)
    assert body(world["bob"].get(f"/api/v1/files/{report['id']}/content")) == REPORT
