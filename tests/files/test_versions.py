"""File versions: new versions by upload, optimistic concurrency with
if_match, listing, restoring an old version, and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.access import Role
from portal.core.errors import InvalidInput
from portal.files import tasks
from portal.files.models import FileVersion, Node, UploadSession, UploadState
from portal.files.services import maintenance, versions
from portal.spaces.models import Space
from portal.spaces.services import space_create, space_update
from portal.storage import get_store
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


def used(space) -> int:
    return Space.objects.get(pk=space.pk).used_bytes


def stored(version: FileVersion) -> bytes:
    with get_store().open(version.blob.key) as stream:
        return stream.read()


def version(node_id, number) -> FileVersion:
    return FileVersion.objects.select_related("blob").get(node_id=node_id, number=number)


def numbers(node_id) -> list[int]:
    return list(FileVersion.objects.filter(node_id=node_id).order_by("-number").values_list("number", flat=True))


def list_versions(client, node_id):
    return client.get(f"/api/v1/files/{node_id}/versions")


def restore(client, node_id, number):
    return client.post(f"/api/v1/files/{node_id}/versions/{number}/restore")


def age(node_id, number, days) -> None:
    FileVersion.objects.filter(node_id=node_id, number=number).update(created_at=timezone.now() - timedelta(days=days))


@pytest.fixture
def four(client, team, upload) -> int:
    """/f.txt with versions 1..4 of 10, 20, 30 and 40 bytes; its node id."""
    for n in range(1, 5):
        meta = upload(client, team, "/f.txt", bytes([48 + n]) * (10 * n))
    assert used(team) == 100
    return meta["id"]


# --- New versions by upload ----------------------------------------------------------------------------

def test_uploading_to_an_existing_path_makes_version_2_of_the_same_file(client, team, upload):
    first = upload(client, team, "/docs/f.txt", b"one")
    second = upload(client, team, "/docs/f.txt", b"second")
    assert second["id"] == first["id"] and second["version"] == 2 and second["size"] == 6
    assert stored(version(first["id"], 1)) == b"one"
    assert stored(version(first["id"], 2)) == b"second"
    assert used(team) == 3 + 6, "every version counts against the quota"
    listed = client.get(f"/api/v1/spaces/{team.id}/tree/docs").json()["results"]
    assert [(e["name"], e["version"], e["size"]) for e in listed] == [("f.txt", 2, 6)]


def test_an_upload_with_if_match_of_the_current_version_succeeds(client, team, upload):
    upload(client, team, "/f.txt", b"one")
    meta = upload(client, team, "/f.txt", b"two", if_match=1)
    assert meta["version"] == 2


def test_an_upload_with_a_stale_if_match_is_refused_at_the_start_with_the_current_version(client, team, upload):
    first = upload(client, team, "/f.txt", b"one")
    upload(client, team, "/f.txt", b"two")
    body = assert_error(upload.start(client, team, "/f.txt", b"mine", if_match=1), 409, "version_mismatch")
    assert body["detail"] == {"current_version": 2}
    assert numbers(first["id"]) == [2, 1] and used(team) == 6
    assert not UploadSession.objects.filter(path="/f.txt", if_match=1).exists()


def test_an_upload_with_if_match_to_a_file_that_does_not_exist_is_refused(client, team, upload):
    body = assert_error(upload.start(client, team, "/new.txt", b"x", if_match=1), 409, "version_mismatch")
    assert body["detail"] == {"current_version": None}


def test_a_file_changed_between_start_and_complete_refuses_the_stale_upload(client, team, upload):
    first = upload(client, team, "/f.txt", b"one")
    started = upload.start(client, team, "/f.txt", b"my edit", if_match=1)
    assert started.status_code == 201, started.content
    upload.send(client, started.json(), b"my edit")
    upload(client, team, "/f.txt", b"their edit")  # someone else wins meanwhile

    body = assert_error(upload.complete(client, started.json()["id"]), 409, "version_mismatch")
    assert body["detail"] == {"current_version": 2}
    assert numbers(first["id"]) == [2, 1]
    assert stored(version(first["id"], 2)) == b"their edit"
    assert used(team) == len(b"one") + len(b"their edit")
    session = UploadSession.objects.get(pk=started.json()["id"])
    assert session.state == UploadState.ABORTED
    assert not get_store().exists(session.key), "the refused bytes are removed"
    assert_error(upload.complete(client, started.json()["id"]), 409, "upload_closed")


# --- Listing -------------------------------------------------------------------------------------------

def test_versions_are_listed_newest_first_with_the_current_one_flagged(client, team, four):
    response = list_versions(client, four)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [v["number"] for v in results] == [4, 3, 2, 1]
    assert [v["current"] for v in results] == [True, False, False, False]
    assert [v["size"] for v in results] == [40, 30, 20, 10]
    assert {v["created_by"] for v in results} == {"alice"}


def test_a_folder_has_no_versions(client, team):
    folder = client.post(f"/api/v1/spaces/{team.id}/folders", {"path": "/docs"}, format="json").json()
    assert_error(list_versions(client, folder["id"]), 400, "not_a_file")
    assert_error(restore(client, folder["id"], 1), 400, "not_a_file")


def test_a_viewer_lists_versions_but_cannot_restore_and_an_outsider_sees_nothing(signed_in, bob, team,
                                                                                  member_of, four):
    viewer = signed_in(member_of(Role.VIEWER))
    assert [v["number"] for v in list_versions(viewer, four).json()["results"]] == [4, 3, 2, 1]
    assert_error(restore(viewer, four, 1), 403, "forbidden")
    outsider = signed_in(bob)
    assert_error(list_versions(outsider, four), 404, "not_found")
    assert restore(outsider, four, 1).json() == restore(outsider, 999_999, 1).json()
    assert_error(restore(outsider, four, 1), 404, "not_found")
    assert numbers(four) == [4, 3, 2, 1]


# --- Restore -------------------------------------------------------------------------------------------

def test_restoring_version_1_makes_a_new_current_version_with_the_old_content(client, team, upload):
    first = upload(client, team, "/f.txt", b"the original")
    upload(client, team, "/f.txt", b"a rewrite")
    response = restore(client, first["id"], 1)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 3 and body["restored_from"] == 1 and body["current"] is True
    assert stored(version(first["id"], 3)) == b"the original"
    assert stored(version(first["id"], 2)) == b"a rewrite"
    meta = client.get(f"/api/v1/files/{first['id']}").json()
    assert meta["version"] == 3 and meta["size"] == len(b"the original")
    assert used(team) == 2 * len(b"the original") + len(b"a rewrite")
    event = last_event(Action.FILE_VERSION_RESTORED, space=team)
    assert event.details == {"restored": 1, "version": 3} and event.target_label == "/f.txt"


def test_restoring_a_version_that_does_not_exist_is_not_found(client, team, four):
    for number in (0, 5, 99):
        assert_error(restore(client, four, number), 404, "not_found")
    assert restore(client, four, "abc").status_code == 404
    assert numbers(four) == [4, 3, 2, 1] and used(team) == 100


def test_downloading_a_version_by_a_bad_or_missing_number_is_refused(client, team, four):
    assert_error(client.get(f"/api/v1/files/{four}/content", {"version": "two"}), 400, "invalid_version")
    assert_error(client.get(f"/api/v1/files/{four}/content", {"version": "99"}), 404, "not_found")
    with pytest.raises(InvalidInput):
        versions.version_get(Node.objects.get(pk=four), "1.5")


def test_restoring_beyond_the_quota_is_refused_and_creates_no_version(client, team, four):
    Space.objects.filter(pk=team.pk).update(quota_bytes=109)
    assert_error(restore(client, four, 1), 507, "quota_exceeded")
    assert numbers(four) == [4, 3, 2, 1] and used(team) == 100
    assert not events(Action.FILE_VERSION_RESTORED)


def test_restoring_in_an_archived_space_is_refused(client, alice, team, four):
    space_update(actor=alice, space_id=team.id, archived=True)
    assert_error(restore(client, four, 1), 409, "archived")


# --- Retention -----------------------------------------------------------------------------------------

def test_pruning_keeps_the_last_n_versions_and_frees_their_quota(client, alice, team, four):
    space_update(actor=alice, space_id=team.id, keep_versions=2)
    assert versions.versions_prune(space_id=team.id) == 2
    assert numbers(four) == [4, 3]
    assert used(team) == 70
    event = last_event(Action.FILE_VERSIONS_PRUNED, space=team)
    assert event.details == {"versions": 2, "bytes": 30}
    assert versions.versions_prune(space_id=team.id) == 0, "harmless twice"
    assert used(team) == 70


def test_pruning_by_age_never_removes_the_current_version(client, alice, team, four):
    space_update(actor=alice, space_id=team.id, keep_version_days=1)
    for number in (1, 2, 3, 4):
        age(four, number, days=10)
    assert versions.versions_prune(space_id=team.id) == 3
    assert numbers(four) == [4]
    assert used(team) == 40
    assert client.get(f"/api/v1/files/{four}").json()["version"] == 4


def test_keep_version_days_of_the_deployment_prunes_old_versions(client, team, four, settings):
    settings.KEEP_VERSION_DAYS = 7
    age(four, 1, days=10)
    age(four, 2, days=8)
    age(four, 3, days=6)
    assert versions.versions_prune(space_id=team.id) == 2
    assert numbers(four) == [4, 3]
    assert used(team) == 70


def test_a_space_keeping_versions_regardless_of_age_overrides_the_deployment(client, alice, team, four,
                                                                            settings):
    settings.KEEP_VERSION_DAYS = 7
    space_update(actor=alice, space_id=team.id, keep_version_days=0)
    age(four, 1, days=100)
    assert versions.versions_prune(space_id=team.id) == 0
    assert numbers(four) == [4, 3, 2, 1]


def test_keep_versions_of_the_deployment_applies_when_the_space_sets_none(client, team, four, settings):
    settings.KEEP_VERSIONS = 3
    assert versions.versions_prune(space_id=team.id) == 1
    assert numbers(four) == [4, 3, 2]


def test_the_retention_task_prunes_every_space_and_is_harmless_twice(client, alice, team, four, upload):
    other = space_create(actor=alice, name="Other")
    upload(client, other, "/g.txt", b"1")
    other_file = upload(client, other, "/g.txt", b"22")
    space_update(actor=alice, space_id=team.id, keep_versions=1)
    space_update(actor=alice, space_id=other.id, keep_versions=1)
    assert tasks.apply_version_retention() == 4
    assert tasks.apply_version_retention() == 0
    assert numbers(four) == [4] and numbers(other_file["id"]) == [2]
    assert used(team) == 40 and used(other) == 2


def test_pruned_bytes_leave_the_store_unless_a_newer_version_shares_them(client, alice, team, upload):
    first = upload(client, team, "/f.txt", b"original")
    upload(client, team, "/f.txt", b"rewrite")
    restore(client, first["id"], 1)  # version 3 shares version 1's bytes
    v1, v2 = version(first["id"], 1), version(first["id"], 2)
    space_update(actor=alice, space_id=team.id, keep_versions=1)
    assert versions.versions_prune(space_id=team.id) == 2
    maintenance.blobs_collect()
    assert not get_store().exists(v2.blob.key)
    assert get_store().exists(v1.blob.key)
    assert stored(version(first["id"], 3)) == b"original"
