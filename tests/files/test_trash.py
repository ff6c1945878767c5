"""The trash: delete, restore (to where it was or elsewhere), purge by hand
and by age, and what purging does to the quota and the stored bytes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.access import Role
from portal.files import tasks
from portal.files.models import Blob, FileVersion, Node
from portal.files.services import maintenance, tree
from portal.spaces.models import Space
from portal.storage import get_store
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


def names_in(client, space, path="/") -> list[str]:
    response = client.get(f"/api/v1/spaces/{space.id}/tree/{path.lstrip('/')}")
    assert response.status_code == 200, response.content
    return [entry["name"] for entry in response.json()["results"]]


def trash_of(client, space) -> list[dict]:
    response = client.get(f"/api/v1/spaces/{space.id}/trash")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def delete(client, node_id):
    return client.delete(f"/api/v1/files/{node_id}")


def restore(client, node_id, path=None):
    return client.post(f"/api/v1/trash/{node_id}/restore", {} if path is None else {"path": path}, format="json")


def purge(client, node_id):
    return client.delete(f"/api/v1/trash/{node_id}")


def mkdir(client, space, path) -> int:
    response = client.post(f"/api/v1/spaces/{space.id}/folders", {"path": path}, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()["id"]


def used(space) -> int:
    return Space.objects.get(pk=space.pk).used_bytes


def blob_key(node_id) -> str:
    return FileVersion.objects.select_related("blob").filter(node_id=node_id).first().blob.key


# --- Delete --------------------------------------------------------------------------------------------

def test_a_deleted_file_leaves_the_listing_and_appears_in_the_trash(client, team, upload):
    meta = upload(client, team, "/docs/f.txt", b"hello")
    response = delete(client, meta["id"])
    assert response.status_code == 200, response.content
    assert names_in(client, team, "/docs") == []
    [item] = trash_of(client, team)
    assert item["id"] == meta["id"] and item["path"] == "/docs/f.txt" and item["size"] == 5
    assert item["trashed_by"] == "alice" and item["trashed_at"]
    event = last_event(Action.FILE_DELETED, space=team)
    assert event.target_label == "/docs/f.txt" and event.actor_label == "alice"
    assert used(team) == 5, "the trash still counts against the quota"


def test_a_deleted_file_can_no_longer_be_read_or_changed(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    delete(client, meta["id"])
    assert_error(client.get(f"/api/v1/files/{meta['id']}"), 404, "not_found")
    assert_error(client.patch(f"/api/v1/files/{meta['id']}", {"name": "g"}, format="json"), 404, "not_found")
    assert_error(delete(client, meta["id"]), 404, "not_found")
    assert_error(client.get(f"/api/v1/files/{meta['id']}/content"), 404, "not_found")


def test_a_deleted_name_can_be_used_again(client, team, upload):
    first = upload(client, team, "/f.txt", b"one")
    delete(client, first["id"])
    second = upload(client, team, "/f.txt", b"two")
    assert second["id"] != first["id"] and second["version"] == 1
    assert names_in(client, team) == ["f.txt"]


def test_deleting_a_folder_puts_only_the_folder_in_the_trash(client, team, upload):
    upload(client, team, "/proj/a.txt", b"a")
    upload(client, team, "/proj/sub/b.txt", b"b")
    proj = Node.objects.get(space=team, name="proj")
    delete(client, proj.id)
    assert names_in(client, team) == []
    assert [item["name"] for item in trash_of(client, team)] == ["proj"]


# --- Restore -------------------------------------------------------------------------------------------

def test_restoring_puts_the_item_back_where_it_was_and_is_audited(client, team, upload):
    meta = upload(client, team, "/docs/f.txt", b"hello")
    delete(client, meta["id"])
    response = restore(client, meta["id"])
    assert response.status_code == 200, response.content
    assert response.json()["path"] == "/docs/f.txt"
    assert names_in(client, team, "/docs") == ["f.txt"]
    assert trash_of(client, team) == []
    event = last_event(Action.FILE_RESTORED, space=team)
    assert event.target_label == "/docs/f.txt" and event.target_id == str(meta["id"])


def test_restoring_a_folder_brings_back_what_it_holds(client, team, upload):
    inner = upload(client, team, "/proj/sub/b.txt", b"b")
    proj = Node.objects.get(space=team, name="proj")
    delete(client, proj.id)
    assert restore(client, proj.id).status_code == 200
    assert client.get(f"/api/v1/files/{inner['id']}").json()["path"] == "/proj/sub/b.txt"


def test_restoring_where_the_name_is_now_taken_is_a_conflict_unless_a_path_is_given(client, team, upload):
    old = upload(client, team, "/docs/f.txt", b"old")
    delete(client, old["id"])
    upload(client, team, "/docs/F.TXT", b"new")
    assert_error(restore(client, old["id"]), 409, "name_taken")
    assert [item["id"] for item in trash_of(client, team)] == [old["id"]]

    mkdir(client, team, "/elsewhere")
    response = restore(client, old["id"], "/elsewhere/f-old.txt")
    assert response.status_code == 200, response.content
    assert response.json()["path"] == "/elsewhere/f-old.txt"
    assert names_in(client, team, "/elsewhere") == ["f-old.txt"]
    assert names_in(client, team, "/docs") == ["F.TXT"]


def test_restoring_into_a_folder_that_is_itself_in_the_trash_needs_a_path(client, team, upload):
    meta = upload(client, team, "/a/f.txt", b"hello")
    a = Node.objects.get(space=team, name="a")
    delete(client, meta["id"])
    delete(client, a.id)
    assert_error(restore(client, meta["id"]), 409, "original_folder_gone")
    mkdir(client, team, "/b")
    response = restore(client, meta["id"], "/b/f.txt")
    assert response.status_code == 200, response.content
    assert names_in(client, team, "/b") == ["f.txt"]
    assert [item["name"] for item in trash_of(client, team)] == ["a"]


def test_restoring_to_a_missing_folder_or_a_bad_path_is_refused(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    delete(client, meta["id"])
    assert_error(restore(client, meta["id"], "/nowhere/f.txt"), 404, "not_found")
    assert restore(client, meta["id"], "/a/../f.txt").status_code == 400
    assert_error(restore(client, meta["id"], "/"), 400, "invalid_path")
    assert [item["id"] for item in trash_of(client, team)] == [meta["id"]]


def test_restoring_something_that_is_not_in_the_trash_is_not_found(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    assert_error(restore(client, meta["id"]), 404, "not_found")
    assert_error(restore(client, 999_999), 404, "not_found")


# --- Purge ---------------------------------------------------------------------------------------------

def test_a_manager_purges_for_good_and_frees_every_versions_quota(signed_in, client, team, member_of, upload):
    upload(client, team, "/f.txt", b"1" * 100)
    meta = upload(client, team, "/f.txt", b"2" * 30)
    upload(client, team, "/other.txt", b"keep")
    assert used(team) == 134
    delete(client, meta["id"])
    manager = signed_in(member_of(Role.MANAGER))
    response = purge(manager, meta["id"])
    assert response.status_code == 200, response.content
    assert response.json()["freed_bytes"] == 130
    assert used(team) == 4
    assert trash_of(client, team) == []
    assert not Node.objects.filter(pk=meta["id"]).exists()
    assert not FileVersion.objects.filter(node_id=meta["id"]).exists()
    event = last_event(Action.FILE_PURGED, space=team)
    assert event.details == {"node_id": meta["id"], "bytes": 130}
    assert event.target_label == "f.txt"


def test_an_editor_or_viewer_cannot_purge(signed_in, client, team, member_of, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    delete(client, meta["id"])
    for role in (Role.EDITOR, Role.VIEWER):
        assert_error(purge(signed_in(member_of(role)), meta["id"]), 403, "forbidden")
    assert [item["id"] for item in trash_of(client, team)] == [meta["id"]]
    assert used(team) == 5


def test_an_editor_can_delete_and_restore(signed_in, client, team, member_of, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    editor = signed_in(member_of(Role.EDITOR))
    assert delete(editor, meta["id"]).status_code == 200
    assert restore(editor, meta["id"]).status_code == 200


def test_a_viewer_sees_the_trash_but_cannot_restore(signed_in, client, team, member_of, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    delete(client, meta["id"])
    viewer = signed_in(member_of(Role.VIEWER))
    assert [item["id"] for item in trash_of(viewer, team)] == [meta["id"]]
    assert_error(restore(viewer, meta["id"]), 403, "forbidden")


def test_an_outsider_cannot_see_restore_or_purge_the_trash(signed_in, bob, client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    delete(client, meta["id"])
    outsider = signed_in(bob)
    assert_error(outsider.get(f"/api/v1/spaces/{team.id}/trash"), 404, "not_found")
    for call in (restore, purge):
        answer = assert_error(call(outsider, meta["id"]), 404, "not_found")
        assert answer == call(outsider, 999_999).json()
    assert [item["id"] for item in trash_of(client, team)] == [meta["id"]]


def test_purging_something_that_is_not_in_the_trash_is_not_found(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    assert_error(purge(client, meta["id"]), 404, "not_found")
    assert used(team) == 5


def test_purging_a_folder_removes_its_whole_subtree(client, team, upload):
    a = upload(client, team, "/proj/a.txt", b"a" * 10)
    b = upload(client, team, "/proj/sub/b.txt", b"b" * 20)
    c = upload(client, team, "/proj/sub/c.txt", b"c" * 40)
    delete(client, c["id"])  # in the trash on its own, inside the folder
    upload(client, team, "/keep.txt", b"k")
    proj = Node.objects.get(space=team, name="proj")
    delete(client, proj.id)
    response = purge(client, proj.id)
    assert response.status_code == 200, response.content
    assert response.json()["freed_bytes"] == 70
    assert not Node.objects.filter(pk__in=[proj.id, a["id"], b["id"], c["id"]]).exists()
    assert not Node.objects.filter(space=team, name="sub").exists()
    assert used(team) == 1
    assert trash_of(client, team) == []


def test_trash_purge_expired_purges_only_what_is_older_than_the_cutoff(client, team, upload):
    old = upload(client, team, "/old.txt", b"o" * 10)
    young = upload(client, team, "/young.txt", b"y" * 20)
    upload(client, team, "/live.txt", b"l" * 40)
    delete(client, old["id"])
    delete(client, young["id"])
    now = timezone.now()
    Node.objects.filter(pk=old["id"]).update(trashed_at=now - timedelta(days=31))
    Node.objects.filter(pk=young["id"]).update(trashed_at=now - timedelta(days=29))

    assert tree.trash_purge_expired(older_than=now - timedelta(days=30)) == 1
    assert [item["id"] for item in trash_of(client, team)] == [young["id"]]
    assert used(team) == 60
    event = last_event(Action.FILE_PURGED, space=team)
    assert event.actor is None and event.details["node_id"] == old["id"]


def test_the_trash_task_purges_by_trash_days_and_is_harmless_twice(client, team, upload, settings):
    settings.TRASH_DAYS = 7
    old = upload(client, team, "/old.txt", b"o" * 10)
    young = upload(client, team, "/young.txt", b"y" * 20)
    delete(client, old["id"])
    delete(client, young["id"])
    Node.objects.filter(pk=old["id"]).update(trashed_at=timezone.now() - timedelta(days=8))

    assert tasks.purge_expired_trash() == 1
    assert tasks.purge_expired_trash() == 0
    assert [item["id"] for item in trash_of(client, team)] == [young["id"]]
    assert used(team) == 20
    assert len(events(Action.FILE_PURGED)) == 1


def test_an_expired_folder_holding_an_expired_item_is_purged_once(client, team, upload):
    inner = upload(client, team, "/proj/a.txt", b"a" * 10)
    proj = Node.objects.get(space=team, name="proj")
    delete(client, inner["id"])
    delete(client, proj.id)
    Node.objects.filter(pk__in=[inner["id"], proj.id]).update(trashed_at=timezone.now() - timedelta(days=60))

    tree.trash_purge_expired(older_than=timezone.now() - timedelta(days=30))
    assert not Node.objects.filter(pk__in=[inner["id"], proj.id]).exists()
    assert used(team) == 0
    purged = events(Action.FILE_PURGED, space=team)
    assert sum(event.details["bytes"] for event in purged) == 10
    assert [event.details["node_id"] for event in purged if event.details["bytes"] == 0] == [], \
        "no purge events for items already gone with their folder"


# --- Purge and the stored bytes ------------------------------------------------------------------------

def test_after_purging_and_collecting_the_object_is_gone_from_the_store(client, team, upload):
    upload(client, team, "/f.txt", b"first")
    meta = upload(client, team, "/f.txt", b"second")
    keys = [v.blob.key for v in FileVersion.objects.select_related("blob").filter(node_id=meta["id"])]
    store = get_store()
    assert len(keys) == 2 and all(store.exists(key) for key in keys)
    delete(client, meta["id"])
    purge(client, meta["id"])
    assert maintenance.blobs_collect() == 2
    assert not any(store.exists(key) for key in keys)
    assert not Blob.objects.filter(key__in=keys).exists()
    assert maintenance.blobs_collect() == 0


def test_a_purged_files_bytes_stay_while_a_copy_still_uses_them(client, team, upload):
    meta = upload(client, team, "/f.txt", b"shared bytes")
    key = blob_key(meta["id"])
    copied = client.post(f"/api/v1/files/{meta['id']}/copy", {"path": "/copy.txt"}, format="json").json()
    delete(client, meta["id"])
    purge(client, meta["id"])
    maintenance.blobs_collect()
    assert get_store().exists(key)
    assert get_store().open(key).read() == b"shared bytes"
    assert used(team) == len(b"shared bytes")

    delete(client, copied["id"])
    purge(client, copied["id"])
    maintenance.blobs_collect()
    assert not get_store().exists(key)
    assert used(team) == 0
