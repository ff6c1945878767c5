"""While a file is locked, only its owner changes it: uploads, rename, move,
delete and version restore by anyone else answer 423 naming the holder, and
every refusal is audited even though the refused write rolled back."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.errors import Locked
from portal.files.models import FileVersion, Node, NodeKind
from portal.files.services import direct, tree
from portal.locks.models import LockDepth, LockKind
from portal.locks.services import lock_acquire
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


def mkdir(parent, name) -> Node:
    return Node.objects.create(space_id=parent.space_id, parent=parent, kind=NodeKind.FOLDER, name=name,
                               name_key=name.lower())


def locked(node, owner, **kwargs):
    node = Node.objects.select_related("space").get(pk=node.pk)
    return lock_acquire(actor=owner, node=node, **kwargs)


WRITES = {
    "rename": lambda c, n: c.patch(f"/api/v1/files/{n.id}", {"name": "renamed.docx"}, format="json"),
    "move": lambda c, n: c.post(f"/api/v1/files/{n.id}/move", {"path": "/Archive/report.docx"}, format="json"),
    "delete": lambda c, n: c.delete(f"/api/v1/files/{n.id}"),
    "restore": lambda c, n: c.post(f"/api/v1/files/{n.id}/versions/1/restore"),
}


@pytest.fixture
def doc_v2(doc, root):
    """report.docx with a second version, so version 1 can be restored."""
    mkdir(root, "Archive")
    first = doc.current_version
    doc.current_version = FileVersion.objects.create(node=doc, number=2, blob=first.blob, size=0)
    doc.save(update_fields=["current_version"])
    return doc


@pytest.mark.parametrize("operation", list(WRITES))
def test_another_member_gets_423_naming_the_holder(operation, signed_in, alice, editor, doc_v2):
    locked(doc_v2, alice)
    before = Node.objects.values("name", "parent_id", "trashed_at", "current_version_id").get(pk=doc_v2.pk)
    body = assert_error(WRITES[operation](signed_in(editor), doc_v2), 423, "locked")
    assert "alice" in body["message"] and "until" in body["message"] and "manager" in body["message"]
    assert body["detail"]["locks"][0]["owner"] == "alice"
    assert Node.objects.values("name", "parent_id", "trashed_at", "current_version_id").get(pk=doc_v2.pk) == before
    event = last_event(Action.LOCK_WRITE_REFUSED, target_id=str(doc_v2.id))
    assert event.actor == editor and event.outcome == "denied" and event.details["operation"] == operation


@pytest.mark.parametrize("operation", list(WRITES))
def test_the_owner_of_a_manual_lock_writes_freely(operation, signed_in, editor, doc_v2):
    locked(doc_v2, editor)
    response = WRITES[operation](signed_in(editor), doc_v2)
    assert response.status_code in (200, 201), response.content
    assert not events(Action.LOCK_WRITE_REFUSED)


def test_an_upload_of_a_new_version_is_refused_at_start(signed_in, upload, alice, editor, team):
    client = signed_in(editor)
    upload(client, team, "/notes.txt", b"one")
    locked(Node.objects.get(name="notes.txt"), alice)
    response = upload.start(client, team, "/notes.txt", b"two")
    assert_error(response, 423, "locked")
    assert last_event(Action.LOCK_WRITE_REFUSED).details["operation"] == "upload"
    owner_done = upload(signed_in(alice), team, "/notes.txt", b"alice's")
    assert owner_done["version"] == 2


def test_a_lock_taken_during_an_upload_refuses_its_completion_until_released(signed_in, upload, alice, editor,
                                                                              team):
    client = signed_in(editor)
    upload(client, team, "/notes.txt", b"one")
    started = upload.start(client, team, "/notes.txt", b"two").json()
    upload.send(client, started, b"two")
    lock = locked(Node.objects.get(name="notes.txt"), alice)
    assert_error(upload.complete(client, started["id"]), 423, "locked")
    assert Node.objects.get(name="notes.txt").current_version.number == 1
    assert signed_in(alice).delete(f"/api/v1/files/{lock.node_id}/lock").status_code == 204
    done = upload.complete(client, started["id"])
    assert done.status_code == 201, done.content
    assert done.json()["version"] == 2


def test_editor_locks_need_their_token_even_for_their_owner(alice, doc):
    lock = locked(doc, alice, kind=LockKind.EDITOR, timeout=60)
    with pytest.raises(Locked):
        tree.node_rename(actor=alice, node_id=doc.id, name="x.docx")
    assert last_event(Action.LOCK_WRITE_REFUSED).actor == alice  # recorded after the rollback
    renamed = tree.node_rename(actor=alice, node_id=doc.id, name="x.docx", lock_tokens=[lock.token])
    assert renamed.node.name == "x.docx" and renamed.path == "/x.docx"


def test_a_share_link_visitor_is_stopped_by_any_live_lock(alice, doc):
    """A share link writes for its creator but never holds a lock: any live
    lock refuses it, and the service records the refusal after its rollback."""
    locked(doc, alice)
    with pytest.raises(Locked) as refused:
        direct.file_put(actor=alice, space_id=doc.space_id, path=f"/{doc.name}", fileobj=io.BytesIO(b"x"), size=1,
                        holds_locks=False)
    assert "alice" in refused.value.message
    assert last_event(Action.LOCK_WRITE_REFUSED).actor is None
    assert Node.objects.get(pk=doc.pk).current_version_id == doc.current_version_id


def test_a_folder_holding_locked_files_cannot_be_deleted_moved_or_renamed(signed_in, alice, editor, root,
                                                                         make_file):
    plans = mkdir(root, "Plans")
    deep = mkdir(plans, "2025")
    locked(make_file(deep, "budget.xlsx"), alice)
    locked(make_file(plans, "memo.txt"), alice)
    make_file(plans, "free.txt")
    mkdir(root, "Archive")
    client = signed_in(editor)
    for response in (client.delete(f"/api/v1/files/{plans.id}"),
                     client.post(f"/api/v1/files/{plans.id}/move", {"path": "/Archive/Plans"}, format="json"),
                     client.patch(f"/api/v1/files/{plans.id}", {"name": "Old plans"}, format="json")):
        body = assert_error(response, 423, "locked")
        assert body["detail"]["locked_paths"] == ["/Plans/2025/budget.xlsx", "/Plans/memo.txt"]
        assert "/Plans/2025/budget.xlsx" in body["message"]
    assert Node.objects.get(pk=plans.pk).trashed_at is None
    # Their owner holds those locks, so she may.
    assert signed_in(alice).delete(f"/api/v1/files/{plans.id}").status_code == 200


def test_nothing_moves_into_a_folder_under_someone_elses_collection_lock(signed_in, alice, editor, root,
                                                                         make_file, doc):
    shared = mkdir(root, "Shared")
    inner = mkdir(shared, "Inner")
    locked(shared, alice, kind=LockKind.EDITOR, depth=LockDepth.INFINITY)
    client = signed_in(editor)
    body = assert_error(client.post(f"/api/v1/files/{doc.id}/move", {"path": "/Shared/Inner/report.docx"},
                                    format="json"), 423, "locked")
    assert "Shared" in body["message"]
    # ...and what is inside is covered too.
    inside = make_file(inner, "a.txt")
    assert_error(client.patch(f"/api/v1/files/{inside.id}", {"name": "b.txt"}, format="json"), 423, "locked")


def test_a_lock_past_its_expiry_instant_no_longer_blocks(signed_in, alice, editor, doc, lock_row):
    now = timezone.now()
    lock_row(doc, alice, expires_in=timedelta(seconds=-1), now=now)
    response = signed_in(editor).patch(f"/api/v1/files/{doc.id}", {"name": "mine.docx"}, format="json")
    assert response.status_code == 200, response.content
    # And the file can be locked again, without waiting for the beat task.
    assert signed_in(editor).post(f"/api/v1/files/{doc.id}/lock").status_code == 201


def test_a_lock_up_to_its_expiry_instant_still_blocks(signed_in, alice, editor, doc, lock_row):
    lock_row(doc, alice, expires_in=timedelta(minutes=1))
    assert_error(signed_in(editor).patch(f"/api/v1/files/{doc.id}", {"name": "mine.docx"}, format="json"),
                 423, "locked")
