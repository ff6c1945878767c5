"""Restore to a point in time: a ransomware attack (files rewritten with
random bytes, renamed .locked, some deleted, ransom notes dropped) undone
through the real services, the API's refusals, locks, and the Celery path."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.errors import InvalidInput, NotFound
from portal.files import tasks
from portal.files.models import FileVersion, Node, PointRestore
from portal.files import names
from portal.files.selectors import node_at, space_root
from portal.files.services import direct, point_in_time, tree
from portal.locks import services as locks
from portal.spaces.models import Space
from portal.storage import get_store
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db

FILES = 56
NOTE = "README_RESTORE_FILES.txt"


def put(actor, space, path, data: bytes):
    return direct.file_put(actor=actor, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))


def content(node_id) -> bytes:
    node = Node.objects.select_related("current_version__blob").get(pk=node_id)
    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read()


def live(space, path):
    return Node.objects.get(pk=node_at(space, names.split_path(path))[0].pk)


def attack(team, alice, member_of, *, files: int, in_q3: int, rewritten: int) -> dict:
    """``files`` files in /Docs (``in_q3`` of them in /Docs/Q3) and a clean /Other; then, after T, an
    editor's stolen session encrypts ``rewritten`` and renames them .locked, deletes the others (one
    renamed first), drops a ransom note in /Docs and one in a new folder."""
    originals = {}
    for index in range(files):
        path = f"/Docs/Q3/file-{index:02}.docx" if index < in_q3 else f"/Docs/file-{index:02}.docx"
        originals[path] = os.urandom(200 + index)
        put(alice, team, path, originals[path])
    put(alice, team, "/Other/keep.txt", b"untouched")
    at = timezone.now()
    mallory = member_of("editor", "mallory")
    ids = {path: live(team, path).pk for path in originals}
    paths = sorted(originals)
    for path in paths[:rewritten]:
        put(mallory, team, path, os.urandom(300))
        tree.node_rename(actor=mallory, node_id=ids[path], name=path.rsplit("/", 1)[1] + ".locked")
    tree.node_rename(actor=mallory, node_id=ids[paths[rewritten]], name="renamed-then-deleted.docx")
    for path in paths[rewritten:]:
        tree.node_trash(actor=mallory, node_id=ids[path])
    put(mallory, team, f"/Docs/{NOTE}", b"send 1 BTC")
    put(mallory, team, f"/Docs/ransom/{NOTE}", b"send 1 BTC")
    return {"at": at, "originals": originals, "ids": ids, "paths": paths, "mallory": mallory}


@pytest.fixture
def attacked(team, alice, member_of):
    """The issue's scenario: 56 files, 50 encrypted and renamed, 6 deleted, 2 notes (108 changes)."""
    return attack(team, alice, member_of, files=FILES, in_q3=8, rewritten=50)


@pytest.fixture
def hit(team, alice, member_of):
    """The same, smaller, for the side cases: 12 files (4 in /Docs/Q3), 8 encrypted, 4 deleted (22 changes)."""
    return attack(team, alice, member_of, files=12, in_q3=4, rewritten=8)


def test_the_preview_lists_exactly_what_the_attack_changed(team, alice, attacked):
    with CaptureQueriesContext(connection) as queries:
        plan = point_in_time.point_restore_preview(actor=alice, space_id=team.pk, at=attacked["at"].isoformat())
    assert len(queries) <= 15, "the plan's queries do not grow with the tree"
    assert plan.counts == {"trash": 2, "untrash": 6, "place": 50, "content": 50, "collisions": 0, "skipped": 0,
                           "locked": 0}
    by_kind = {}
    for change in plan.changes:
        by_kind.setdefault(change.kind, set()).add((change.path, change.to))
    paths, ids = attacked["paths"], attacked["ids"]
    assert by_kind["place"] == {(p + ".locked", p) for p in paths[:50]}
    assert {to for _, to in by_kind["untrash"]} == set(paths[50:])
    assert {path for path, _ in by_kind["trash"]} == {f"/Docs/{NOTE}", "/Docs/ransom"}
    assert {path for path, _ in by_kind["content"]} == set(paths[:50])
    assert all(c.version == 1 for c in plan.changes if c.kind == "content")
    assert plan.bytes_needed == sum(len(attacked["originals"][p]) for p in paths[:50])
    assert live(team, paths[0] + ".locked").pk == ids[paths[0]], "a preview changes nothing"


def test_apply_brings_every_file_back_byte_identical_and_a_second_apply_changes_nothing(team, alice, attacked):
    used_before = Space.objects.get(pk=team.pk).used_bytes
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=attacked["at"].isoformat())
    assert run.state == "done" and run.counts["content"] == 50 and run.counts["trash"] == 2
    for path, data in attacked["originals"].items():
        node = live(team, path)
        assert node.pk == attacked["ids"][path] and content(node.pk) == data, path
    for path in attacked["paths"][:50]:
        node_id = attacked["ids"][path]
        assert list(FileVersion.objects.filter(node_id=node_id).values_list("number", "restored_from")) == [
            (3, 1), (2, None), (1, None)], "the encrypted version stays, the restored one is new"
    note = Node.objects.get(space=team, name=NOTE, parent__name="Docs")
    assert note.trashed_at is not None, "the ransom note went to the trash (recoverable), not purged"
    assert Node.objects.get(space=team, name="ransom").trashed_at is not None
    assert content(live(team, "/Other/keep.txt").pk) == b"untouched"
    # Quota counts every version's size: restored versions cost quota, not storage (they share the blobs).
    assert Space.objects.get(pk=team.pk).used_bytes == used_before + sum(
        len(attacked["originals"][p]) for p in attacked["paths"][:50])
    event = last_event(Action.SPACE_RESTORED_TO_POINT, space=team)
    assert event.details["changed"] == 108 and event.details["at"] == attacked["at"].isoformat()
    assert len(events(Action.FILE_VERSION_RESTORED, space=team)) == 50
    assert len(events(Action.FILE_RENAMED, space=team, details__restore=run.pk)) == 50

    versions, nodes = FileVersion.objects.count(), list(Node.objects.values_list("pk", "parent_id", "name", "trashed_at"))
    again = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=attacked["at"].isoformat())
    assert again.total == 0 and sum(again.counts[k] for k in ("trash", "untrash", "place", "content")) == 0
    assert FileVersion.objects.count() == versions
    assert list(Node.objects.values_list("pk", "parent_id", "name", "trashed_at")) == nodes


def test_a_file_locked_by_someone_else_is_reported_and_skipped(team, alice, hit, member_of):
    victim = hit["paths"][0]
    carol = member_of("editor", "carol")
    locks.lock_acquire(actor=carol, node=live(team, victim + ".locked"))
    plan = point_in_time.point_restore_preview(actor=alice, space_id=team.pk, at=hit["at"].isoformat())
    assert {(c.kind, c.skipped) for c in plan.skipped} == {("place", "locked"), ("content", "locked")}
    assert plan.counts["locked"] == 2
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=hit["at"].isoformat())
    assert run.counts["locked"] == 2 and run.counts["content"] == 7
    assert content(live(team, victim + ".locked").pk) != hit["originals"][victim], "the lock was honoured"
    assert content(live(team, hit["paths"][1]).pk) == hit["originals"][hit["paths"][1]]


def test_a_folder_restore_leaves_the_rest_of_the_space_alone(team, alice, hit):
    plan = point_in_time.point_restore_preview(actor=alice, space_id=team.pk, at=hit["at"].isoformat(),
                                               path="/Docs/Q3")
    assert {c.path for c in plan.changes if c.kind == "content"} == {p for p in hit["paths"][:4]}
    assert not [c for c in plan.changes if c.kind == "trash"]
    point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=hit["at"], path="/Docs/Q3")
    assert last_event(Action.FOLDER_RESTORED_TO_POINT, space=team).target_label == "/Docs/Q3"
    assert live(team, f"/Docs/{NOTE}").trashed_at is None


def test_a_name_taken_at_the_old_place_keeps_both_with_a_number(team, alice, hit):
    victim = hit["paths"][5]
    put(hit["mallory"], team, victim, b"a new file under the old name")
    plan = point_in_time.point_restore_preview(actor=alice, space_id=team.pk, at=hit["at"].isoformat())
    assert plan.counts["trash"] == 3, "the newcomer was made after T: to the trash, which frees the name"
    point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=hit["at"].isoformat())
    assert content(live(team, victim).pk) == hit["originals"][victim]


def test_a_large_restore_runs_as_a_task_with_progress_and_twice_is_harmless(team, alice, hit,
                                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=hit["at"], queue=True)
    assert run.state == "queued" and run.total == 22 and len(queued) == 1
    assert tasks.point_restore(run.pk)["state"] == "done"
    run.refresh_from_db()
    assert (run.done, run.total, run.counts["untrash"]) == (22, 22, 4)
    assert tasks.point_restore(run.pk)["done"] == 22
    assert len(events(Action.SPACE_RESTORED_TO_POINT, space=team)) == 1


# --- The API -------------------------------------------------------------------------


def test_the_api_previews_and_applies_for_managers_and_admins(team, alice, hit, api, admin, member_of):
    at = hit["at"].isoformat()
    manager = member_of("manager", "meg")
    response = api.as_user(manager).post(f"/api/v1/spaces/{team.pk}/restore-to-point/preview", {"at": at},
                                         format="json")
    assert response.status_code == 200, response.content
    assert response.json()["counts"]["content"] == 8 and len(response.json()["changes"]) == 22
    response = api.as_user(admin).post(f"/api/v1/spaces/{team.pk}/restore-to-point", {"at": at, "path": "/Docs/Q3"},
                                       format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "done" and response.json()["counts"]["content"] == 4
    got = api.as_user(manager).get(f"/api/v1/restore-runs/{response.json()['id']}")
    assert got.status_code == 200 and got.json()["done"] == response.json()["done"]


@pytest.mark.parametrize("role", ["viewer", "editor", None])
def test_the_api_refuses_viewers_editors_and_outsiders(team, alice, api, member_of, make_user, role):
    user = member_of(role) if role else make_user(username="stranger")
    at = (timezone.now() - timedelta(hours=1)).isoformat()
    for url in (f"/api/v1/spaces/{team.pk}/restore-to-point/preview", f"/api/v1/spaces/{team.pk}/restore-to-point"):
        response = api.as_user(user).post(url, {"at": at}, format="json")
        assert response.status_code in (403, 404), response.content
    run = PointRestore.objects.create(space=team, folder=space_root(team), at=timezone.now())
    assert_error(api.as_user(user).get(f"/api/v1/restore-runs/{run.pk}"), 404, "not_found")
    assert not events(Action.SPACE_RESTORED_TO_POINT)


def test_the_api_refuses_bad_times_and_unknown_folders(team, alice, api):
    client, url = api.as_user(alice), f"/api/v1/spaces/{team.pk}/restore-to-point/preview"
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert_error(client.post(url, {"at": future}, format="json"), 400, "time_in_future")
    assert_error(client.post(url, {"at": "last tuesday"}, format="json"), 400, "invalid_time")
    assert_error(client.post(url, {"at": "2026-13-45T99:00"}, format="json"), 400, "invalid_time")
    past = (timezone.now() - timedelta(minutes=5)).isoformat()
    assert_error(client.post(url, {"at": past, "path": "/Nowhere"}, format="json"), 404, "not_found")
    assert_error(client.post(url, {"at": past, "folder": 987654}, format="json"), 404, "not_found")
    assert client.post(url, {"at": past, "when": 1}, format="json").status_code == 400
    assert_error(client.post(url, {"at": "2001-01-01T00:00:00Z"}, format="json"), 400, "folder_not_there")
    with pytest.raises(InvalidInput):
        point_in_time.parse_at("")
    with pytest.raises(NotFound):
        point_in_time.point_restore_get(alice, 987654)


def test_a_name_kept_by_an_item_left_alone_gives_name_2_once(team, alice, hit):
    victim = hit["paths"][5]  # /Docs/file-05.docx, now file-05.docx.locked
    outsider = live(team, "/Other/keep.txt")
    tree.node_move(actor=hit["mallory"], node_id=outsider.pk, path=victim)
    plan = point_in_time.point_restore_preview(actor=alice, space_id=team.pk, at=hit["at"], path="/Docs")
    taken = [c for c in plan.changes if c.node_id == hit["ids"][victim] and c.kind == "place"]
    assert [(c.to, c.collision) for c in taken] == [("/Docs/file-05 (2).docx", True)]
    assert [(c.path, c.skipped) for c in plan.skipped] == [(victim, "moved_in")]
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=hit["at"], path="/Docs")
    assert run.counts["collisions"] == 1
    assert content(live(team, "/Docs/file-05 (2).docx").pk) == hit["originals"][victim]
    again = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=hit["at"], path="/Docs")
    assert again.total == 0


def test_folders_renamed_deleted_or_made_after_t_are_put_back(team, alice):
    a = put(alice, team, "/Projects/alpha/a.txt", b"alpha").node
    b = put(alice, team, "/Projects/beta/b.txt", b"beta").node
    at = timezone.now()
    alpha, beta = Node.objects.get(pk=a.parent_id), Node.objects.get(pk=b.parent_id)
    tree.node_rename(actor=alice, node_id=alpha.pk, name="alpha.locked")
    tree.node_rename(actor=alice, node_id=a.pk, name="a.txt.locked")
    tree.folder_create(actor=alice, space_id=team.pk, path="/Projects/loot")
    tree.node_move(actor=alice, node_id=b.pk, path="/Projects/loot/b.txt")
    tree.node_trash(actor=alice, node_id=beta.pk)
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=at, path="/Projects")
    assert (run.counts["place"], run.counts["untrash"], run.counts["trash"]) == (3, 1, 1)
    assert live(team, "/Projects/alpha/a.txt").pk == a.pk and content(a.pk) == b"alpha"
    assert live(team, "/Projects/beta/b.txt").pk == b.pk and content(b.pk) == b"beta"
    assert Node.objects.get(space=team, name="loot").trashed_at is not None
    assert point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=at, path="/Projects").total == 0


def test_a_move_back_out_of_a_legal_hold_is_refused_and_reported(team, alice, admin):
    from portal.governance.services import hold_create

    a = put(alice, team, "/Docs/a.txt", b"alpha").node
    put(alice, team, "/Held/keep.txt", b"kept")
    at = timezone.now()
    tree.node_move(actor=alice, node_id=a.pk, path="/Held/a.txt")
    hold_create(actor=admin, kind="folder", target_id=live(team, "/Held").pk, reason="litigation 42")
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=at)
    assert (run.counts["place"], run.counts["held"], run.counts["skipped"]) == (0, 1, 1)
    assert live(team, "/Held/a.txt").pk == a.pk, "the hold keeps it where it is"
