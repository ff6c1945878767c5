"""The lock operations, row by row of the lock table in Microsoft's WOPI REST reference."""

from __future__ import annotations

import pytest

from portal.locks.models import Lock, LockKind, LockScope
from tests.collab.wopi.conftest import join, put
from tests.dav.support import lock as dav_lock, token_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def doc(alice, team):
    return put(alice, team, "report.docx", b"PK-original").node


def test_lock_on_an_unlocked_file_takes_an_editor_lock_with_the_lock_string(client_for, alice, doc):
    response = client_for(alice, doc).lock("L1")
    assert response.status_code == 200
    row = Lock.objects.get(node=doc)
    assert (row.kind, row.scope, row.wopi_lock, row.owner) == (LockKind.EDITOR, LockScope.EXCLUSIVE, "L1", alice)
    assert 29 * 60 < (row.expires_at - row.refreshed_at).total_seconds() <= 30 * 60


def test_lock_again_with_the_same_string_refreshes_the_lease(client_for, alice, doc):
    office = client_for(alice, doc)
    office.lock("L1")
    from datetime import timedelta

    from django.utils import timezone
    soon = timezone.now() + timedelta(minutes=1)
    Lock.objects.filter(node=doc).update(expires_at=soon)
    assert office.lock("L1").status_code == 200
    assert Lock.objects.get(node=doc).expires_at > soon + timedelta(minutes=25)


def test_lock_with_another_string_is_a_mismatch_naming_the_current_lock(client_for, alice, doc):
    office = client_for(alice, doc)
    office.lock("L1")
    response = office.lock("L2")
    assert response.status_code == 409
    assert response.headers["X-WOPI-Lock"] == "L1"
    assert Lock.objects.get(node=doc).wopi_lock == "L1"


def test_get_lock_answers_the_string_or_empty(client_for, alice, doc):
    office = client_for(alice, doc)
    response = office.get_lock()
    assert (response.status_code, response.headers["X-WOPI-Lock"]) == (200, "")
    office.lock("L1")
    assert office.get_lock().headers["X-WOPI-Lock"] == "L1"


def test_refresh_lock_matches_mismatches_and_unlocked(client_for, alice, doc):
    office = client_for(alice, doc)
    unlocked = office.refresh_lock("L1")
    assert (unlocked.status_code, unlocked.headers["X-WOPI-Lock"]) == (409, "")
    office.lock("L1")
    assert office.refresh_lock("L1").status_code == 200
    wrong = office.refresh_lock("L2")
    assert (wrong.status_code, wrong.headers["X-WOPI-Lock"]) == (409, "L1")


def test_unlock_matches_mismatches_and_unlocked(client_for, alice, doc):
    office = client_for(alice, doc)
    unlocked = office.unlock("L1")
    assert (unlocked.status_code, unlocked.headers["X-WOPI-Lock"]) == (409, "")
    office.lock("L1")
    wrong = office.unlock("L2")
    assert (wrong.status_code, wrong.headers["X-WOPI-Lock"]) == (409, "L1")
    assert office.unlock("L1").status_code == 200
    assert not Lock.objects.filter(node=doc).exists()


def test_unlock_and_relock_replaces_the_string_atomically(client_for, alice, doc):
    office = client_for(alice, doc)
    unlocked = office.lock("L2", old="L1")
    assert (unlocked.status_code, unlocked.headers["X-WOPI-Lock"]) == (409, "")
    office.lock("L1")
    wrong = office.lock("L3", old="L9")
    assert (wrong.status_code, wrong.headers["X-WOPI-Lock"]) == (409, "L1")
    assert office.lock("L2", old="L1").status_code == 200
    assert Lock.objects.get(node=doc).wopi_lock == "L2"


def test_an_empty_or_overlong_lock_string_is_bad_input(client_for, alice, doc):
    office = client_for(alice, doc)
    assert office.lock("").status_code == 400
    assert office.lock("x" * 1025).status_code == 400
    assert office.lock("x" * 1024).status_code == 200  # SupportsExtendedLockLength


def test_a_webdav_lock_of_someone_else_is_another_interface(client_for, alice, bob, team, doc, dav):
    join(team, alice, bob, "editor")
    token_of(dav_lock(dav, f"{dav.base}/report.docx"))
    office = client_for(bob, doc)
    for response in (office.lock("L1"), office.refresh_lock("L1"), office.unlock("L1"),
                     office.put_file(b"new", "L1")):
        assert response.status_code == 409
        assert response.headers["X-WOPI-Lock"] == ""
        assert response.headers["X-WOPI-LockedByOtherInterface"] == "true"
        assert "alice" in response.headers["X-WOPI-LockFailureReason"]
    assert office.get_lock().headers["X-WOPI-Lock"] == ""


def test_a_coediting_session_makes_the_file_locked_by_another_interface(client_for, alice, bob, team, doc):
    join(team, alice, bob, "editor")
    from datetime import timedelta

    from django.utils import timezone
    now = timezone.now()
    Lock.objects.create(node=doc, owner=bob, kind=LockKind.COEDIT, scope=LockScope.SHARED, created_at=now,
                        refreshed_at=now, expires_at=now + timedelta(minutes=2), timeout_seconds=120)
    office = client_for(alice, doc)
    assert office.check_file_info().json()["UserCanWrite"] is False  # the editor opens read-only
    response = office.lock("L1")
    assert response.status_code == 409
    assert response.headers["X-WOPI-Lock"] == ""
    assert "Being edited in the portal by bob" in response.headers["X-WOPI-LockFailureReason"]


def test_one_lock_string_serves_every_user_of_the_document(client_for, alice, bob, team, doc):
    """Collabora locks once per document and saves as whichever user saves."""
    join(team, alice, bob, "editor")
    client_for(alice, doc).lock("shared-L")
    office_b = client_for(bob, doc)
    assert office_b.lock("shared-L").status_code == 200
    saved = office_b.put_file(b"bob's words", "shared-L")
    assert saved.status_code == 200, saved.text
    doc.refresh_from_db()
    assert doc.current_version.created_by == bob


def test_a_wopi_lock_stops_webdav_writers_until_unlocked(client_for, alice, doc, dav):
    office = client_for(alice, doc)
    office.lock("L1")
    refused = dav.put(f"{dav.base}/report.docx", data=b"from webdav")
    assert refused.status_code == 423
    assert office.unlock("L1").status_code == 200
    assert dav.put(f"{dav.base}/report.docx", data=b"from webdav").status_code in (200, 201, 204)


def test_an_expired_wopi_lock_no_longer_counts(client_for, alice, doc):
    from django.utils import timezone

    office = client_for(alice, doc)
    office.lock("L1")
    Lock.objects.filter(node=doc).update(expires_at=timezone.now())
    assert office.get_lock().headers["X-WOPI-Lock"] == ""
    assert office.lock("L2").status_code == 200


def test_a_reason_naming_someone_in_chinese_still_makes_a_valid_header(client_for, alice, bob, team, doc):
    from urllib.parse import unquote

    from portal.locks.services import lock_acquire

    join(team, alice, bob, "editor")
    bob.first_name, bob.last_name = "王", "芳"
    bob.save(update_fields=["first_name", "last_name"])
    lock_acquire(actor=bob, node=doc, note="reviewing")
    response = client_for(alice, doc).lock("L1")
    assert response.status_code == 409
    assert response.headers["X-WOPI-LockFailureReason"].isascii()
    assert "王" in unquote(response.headers["X-WOPI-LockFailureReason"])


def test_two_office_servers_locking_at_once_get_one_lock(client_for, alice, bob, team, doc):
    """Real concurrent requests on the live server (PostgreSQL row locks decide): one wins, one mismatches."""
    import threading

    join(team, alice, bob, "editor")
    offices = [client_for(alice, doc), client_for(bob, doc)]
    barrier, answers = threading.Barrier(2), {}

    def lock(index: int) -> None:
        barrier.wait(timeout=30)
        answers[index] = offices[index].lock(f"L{index}")

    threads = [threading.Thread(target=lock, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(response.status_code for response in answers.values())
    assert statuses == [200, 409]
    winner = Lock.objects.get(node=doc).wopi_lock
    loser = next(response for response in answers.values() if response.status_code == 409)
    assert loser.headers["X-WOPI-Lock"] == winner
