"""Attacks on legal holds and retention. Each test is one attack; it passes
when the defence holds: the data survives and the refusal says why.

Space managers and owners can trash and purge in their spaces; none of that
may end data an administrator put under a hold or a retention, whatever the
door (REST API, WebDAV, moves to a place nothing protects, the space's own
version settings) and nobody but an administrator may lift either."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from portal.files import tasks as file_tasks
from portal.files.models import FileVersion, Node
from portal.files.services import tree
from portal.files.services.direct import file_put
from portal.governance import services as governance
from portal.governance.models import LegalHold, RetentionPolicy
from portal.spaces.models import Membership, Space
from portal.spaces.services import space_create
from tests.dav.conftest import alice_dav, dav, dav_user_of, live_dav, team  # noqa: F401 - fixtures
from tests.helpers import assert_error


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def _put(actor, space, path: str, data: bytes = b"evidence"):
    return file_put(actor=actor, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))


@pytest.fixture
def held_folder(db, alice, admin, make_user):
    space = space_create(actor=alice, name="Legal")
    manager = make_user(username="mallory")
    Membership.objects.create(space=space, user=manager, role="manager")
    tree.folder_create(actor=alice, space_id=space.pk, path="/Case")
    version = _put(alice, space, "/Case/mail.eml")
    folder = Node.objects.get(space=space, name="Case")
    governance.hold_create(actor=admin, kind="folder", target_id=folder.pk, reason="Case 2026-17")
    return space, manager, folder, version


def test_a_manager_cannot_purge_a_held_folder_through_the_api(held_folder):
    space, manager, folder, version = held_folder
    client = _client(manager)
    assert client.delete(f"/api/v1/files/{folder.pk}").status_code in (200, 204)   # the trash: allowed
    assert_error(client.delete(f"/api/v1/trash/{folder.pk}"), 409, "legal_hold")
    assert FileVersion.objects.filter(pk=version.pk).exists()


def test_a_manager_cannot_lift_the_hold_nor_hold_something_himself(held_folder):
    space, manager, folder, version = held_folder
    client = _client(manager)
    hold = LegalHold.objects.get()
    assert_error(client.post(f"/api/v1/governance/holds/{hold.pk}/release", {"reason": "mine"}, format="json"),
                 403, "admin_only")
    assert_error(client.put("/api/v1/governance/retention", {"space": space.pk, "days": 1}, format="json"),
                 403, "admin_only")
    assert LegalHold.objects.get().is_active


def test_moving_a_held_file_to_my_personal_space_then_purging_fails(held_folder):
    space, manager, folder, version = held_folder
    mine = Space.objects.get(created_by=manager, kind="personal")
    moved = _client(manager).post(f"/api/v1/files/{version.node_id}/move",
                                  {"path": "/mail.eml", "space": mine.pk}, format="json")
    assert_error(moved, 409, "legal_hold_move")
    assert Node.objects.get(pk=version.node_id).space_id == space.pk


def test_shrinking_the_spaces_version_settings_does_not_prune_retained_versions(db, alice, admin):
    space = space_create(actor=alice, name="Board")
    versions = [_put(alice, space, "/minutes.txt", f"v{i}".encode()) for i in range(3)]
    FileVersion.objects.filter(pk__in=[v.pk for v in versions]).update(
        created_at=versions[0].created_at - timedelta(days=40))
    governance.retention_set(actor=admin, space_id=space.pk, days=365)
    response = _client(alice).patch(f"/api/v1/spaces/{space.pk}/", {"keep_versions": 1, "keep_version_days": 1},
                                    format="json")
    assert response.status_code == 200, response.content
    file_tasks.apply_version_retention()
    assert FileVersion.objects.filter(node_id=versions[0].node_id).count() == 3


def test_an_owner_cannot_delete_the_retention_by_deleting_a_version_through_the_quarantine(db, alice, admin):
    """An administrator's own quarantine delete loses to the retention too (hold and retention win)."""
    from portal.governance.selectors import UnderRetention
    from portal.scanning.models import ScanState, ScanVerdict
    from portal.scanning.services import quarantine_delete

    space = space_create(actor=alice, name="Finance")
    version = _put(alice, space, "/q3.xlsx")
    governance.retention_set(actor=admin, space_id=space.pk, days=30)
    ScanVerdict.objects.update_or_create(version=version, defaults={"state": ScanState.FLAGGED, "scanner": "x"})
    with pytest.raises(UnderRetention):
        quarantine_delete(actor=admin, verdict_id=ScanVerdict.objects.get(version=version).pk)
    assert FileVersion.objects.filter(pk=version.pk).exists()


def test_webdav_delete_of_a_retained_file_then_an_api_purge_keeps_it(dav, team, alice, admin):
    _put(alice, team, "/report.pdf")
    governance.retention_set(actor=admin, space_id=team.pk, days=30)
    assert dav.request("DELETE", f"{dav.base}/report.pdf").status_code == 204   # to the trash
    node = Node.objects.get(space=team, name="report.pdf")
    assert node.trashed_at is not None
    body = assert_error(_client(alice).delete(f"/api/v1/trash/{node.pk}"), 409, "under_retention")
    assert "report.pdf" in body["message"]
    assert FileVersion.objects.filter(node=node).count() == 1
    assert RetentionPolicy.objects.filter(space=team).exists() and Space.objects.filter(pk=team.pk).exists()


def test_a_file_kept_by_a_users_hold_through_his_personal_space_cannot_be_moved_out_and_purged(db, alice, bob, admin):
    """A user hold covers the user's personal space whole; a file there that someone else made is covered only by
    the space: it may not leave it for a shared space where nothing covers it, then be purged."""
    shared = space_create(actor=alice, name="Sales")
    Membership.objects.create(space=shared, user=bob, role="manager")
    version = _put(alice, shared, "/deal.pdf")
    mine = Space.objects.get(created_by=bob, kind="personal")
    client = _client(bob)
    moved = client.post(f"/api/v1/files/{version.node_id}/move", {"path": "/deal.pdf", "space": mine.pk},
                        format="json")
    assert moved.status_code == 200, moved.content
    governance.hold_create(actor=admin, kind="user", target_id=bob.pk, reason="Bob leaves, case 2026-31")
    back = client.post(f"/api/v1/files/{version.node_id}/move", {"path": "/deal.pdf", "space": shared.pk},
                       format="json")
    assert_error(back, 409, "legal_hold_move")
    client.delete(f"/api/v1/files/{version.node_id}")
    client.delete(f"/api/v1/trash/{version.node_id}")
    assert FileVersion.objects.filter(pk=version.pk).exists()


def test_a_folder_made_by_a_held_user_is_no_shelter_for_files_moved_out_of_a_held_folder(held_folder, bob, admin):
    """A user hold covers what the user made, not what others put in his folders: moving a held file into a folder
    a held user created would leave it covered by nothing."""
    space, manager, folder, version = held_folder
    Membership.objects.create(space=space, user=bob, role="editor")
    tree.folder_create(actor=bob, space_id=space.pk, path="/Bob's")
    governance.hold_create(actor=admin, kind="user", target_id=bob.pk, reason="Case 2026-18")
    client = _client(manager)
    moved = client.post(f"/api/v1/files/{version.node_id}/move", {"path": "/Bob's/mail.eml"}, format="json")
    assert_error(moved, 409, "legal_hold_move")
    client.delete(f"/api/v1/files/{version.node_id}")
    client.delete(f"/api/v1/trash/{version.node_id}")
    assert FileVersion.objects.filter(pk=version.pk).exists()


def _in_thread(call) -> tuple[threading.Thread, list]:
    """Run ``call`` on its own database connection; its result or exception lands in the list."""
    out: list = []

    def run():
        try:
            out.append(call())
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type IN ('Lock', 'LWLock') AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_hold_made_while_a_purge_runs_is_not_lost_to_it(alice, admin):
    """The purge reads the holds under a lock inside its transaction: a hold committed while it runs wins
    (before, the purge went on with the holds it had read before the hold was committed)."""
    from portal.governance.selectors import UnderLegalHold

    space = space_create(actor=alice, name="Litigation")
    version = _put(alice, space, "/contract.pdf")
    tree.node_trash(actor=alice, node_id=version.node_id)
    made, commit = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            governance.hold_create(actor=admin, kind="space", target_id=space.pk, reason="Case 2026-40")
            made.set()
            assert commit.wait(30)

    holder, _ = _in_thread(hold)
    assert made.wait(30)
    purger, purged = _in_thread(lambda: tree.trash_purge(actor=alice, node_id=version.node_id))
    deadline = time.monotonic() + 30
    while purger.is_alive() and not _waiting_on_a_lock() and time.monotonic() < deadline:
        purger.join(0.02)
    commit.set()
    holder.join(30)
    purger.join(30)
    assert isinstance(purged[0], UnderLegalHold), purged
    assert FileVersion.objects.filter(pk=version.pk).exists()


def test_a_refused_purge_does_not_tell_a_manager_which_colleague_is_under_a_hold(db, alice, bob, admin):
    """Who is under a legal hold is the administrators' secret: a purge refused because the file's author is
    held says the file is under a hold, not whose."""
    space = space_create(actor=alice, name="Ops")
    Membership.objects.create(space=space, user=bob, role="editor")
    version = _put(bob, space, "/notes.txt")
    governance.hold_create(actor=admin, kind="user", target_id=bob.pk, reason="Investigation 2026-77")
    client = _client(alice)
    assert client.delete(f"/api/v1/files/{version.node_id}").status_code in (200, 204)
    body = assert_error(client.delete(f"/api/v1/trash/{version.node_id}"), 409, "legal_hold")
    assert "notes.txt" in body["message"]
    shown = str(body)
    assert "bob" not in shown and "Investigation" not in shown and "hold_id" not in shown, shown
    assert FileVersion.objects.filter(pk=version.pk).exists()


def test_a_held_file_cannot_leave_its_hold_through_the_trash_and_a_restore_elsewhere(held_folder, admin):
    """Trash (allowed under a hold), then restore to another folder: the same move out of the hold that node_move
    refuses; the same for a folder's retention."""
    space, manager, folder, version = held_folder
    client = _client(manager)
    assert client.delete(f"/api/v1/files/{version.node_id}").status_code in (200, 204)
    out = client.post(f"/api/v1/trash/{version.node_id}/restore", {"path": "/mail.eml"}, format="json")
    assert_error(out, 409, "legal_hold_move")
    assert Node.objects.get(pk=version.node_id).parent_id == folder.pk
    assert_error(client.delete(f"/api/v1/trash/{version.node_id}"), 409, "legal_hold")
    tree.folder_create(actor=manager, space_id=space.pk, path="/Kept")
    kept = _put(manager, space, "/Kept/ledger.csv")
    governance.retention_set(actor=admin, space_id=space.pk, node_id=Node.objects.get(name="Kept").pk, days=30)
    assert client.delete(f"/api/v1/files/{kept.node_id}").status_code in (200, 204)
    out = client.post(f"/api/v1/trash/{kept.node_id}/restore", {"path": "/ledger.csv"}, format="json")
    assert_error(out, 409, "retention_move")
    back = client.post(f"/api/v1/trash/{kept.node_id}/restore", {}, format="json")
    assert back.status_code == 200, back.content
    assert FileVersion.objects.filter(pk__in=[version.pk, kept.pk]).count() == 2


def test_a_user_held_while_backup_retention_runs_keeps_every_snapshot(db, alice, admin):
    """The retention run reads the held users once, at its start; a hold made while it goes through the devices
    (minutes on a large site) still keeps the user's snapshots: each device about to lose some asks again."""
    from portal.backups.models import Snapshot
    from portal.backups.services import devices, retention
    from portal.backups.keys import user_key_set

    token = devices.enrollment_token_create(actor=alice, owner=alice)[1]
    device = devices.device_enroll(token=token, hostname="laptop", platform="linux")[0]
    retention.retention_set(actor=admin, device=device, values={"keep_last": 1, "keep_hourly": 0, "keep_daily": 0,
                                                                "keep_weekly": 0, "keep_monthly": 0})
    now, key_set = timezone.now(), user_key_set(alice)
    for i in range(3):
        Snapshot.objects.create(device=device, root="cd" * 32, started_at=now - timedelta(hours=i + 1),
                                finished_at=now - timedelta(hours=i), paths=["/home"], key_set=key_set)
    read_at_start = set()   # the run's read of the held users, before the hold
    governance.hold_create(actor=admin, kind="user", target_id=alice.pk, reason="Case 2026-52")
    assert retention.retention_apply(device_id=device.pk, held_users=read_at_start)["removed"] == []
    assert Snapshot.objects.filter(device=device).count() == 3


def test_a_spaces_members_do_not_read_a_holds_reason_in_its_activity(held_folder, admin):
    """Why something is held (an investigation, a lawsuit) is for administrators and their audit panel, not for
    the space's activity stream or a folder's drawer, which every member reads."""
    from tests.web.live import page_client

    space, manager, folder, version = held_folder
    governance.hold_release(actor=admin, hold_id=LegalHold.objects.get().pk, reason="Settled with ACME")
    client = page_client(manager)
    pages = [client.get(f"/spaces/{space.pk}/activity/"),
             client.get(f"/spaces/{space.pk}/items/{folder.pk}/activity", {"before": 2 ** 62},
                        HTTP_HX_REQUEST="true")]
    for page in pages:
        assert page.status_code == 200, page.content
        html = page.content.decode()
        assert "Case 2026-17" not in html and "ACME" not in html and "legal hold" not in html
    assert "uploaded /Case/mail.eml" in pages[0].content.decode()   # the rest of the stream is there
