"""The folder tree over the API: folders, names, listing, rename, move, copy,
and who may do each."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.access import Role
from portal.files.models import FileVersion, Node, NodeKind
from portal.spaces.models import Membership, Space
from portal.spaces.services import space_create, space_update
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(signed_in, alice):
    return signed_in(alice)


def mkdir(client, space, path):
    return client.post(f"/api/v1/spaces/{space.id}/folders", {"path": path}, format="json")


def folder(client, space, path) -> Node:
    response = mkdir(client, space, path)
    assert response.status_code in (200, 201), response.content
    return Node.objects.get(pk=response.json()["id"])


def tree(client, space, path="", **params):
    return client.get(f"/api/v1/spaces/{space.id}/tree/{quote(path.lstrip('/'))}", params)


def names_in(client, space, path="", **params) -> list[str]:
    response = tree(client, space, path, **params)
    assert response.status_code == 200, response.content
    return [entry["name"] for entry in response.json()["results"]]


def live_nodes(space) -> list[str]:
    return sorted(Node.objects.filter(space=space, parent__isnull=False, trashed_at__isnull=True)
                  .values_list("name", flat=True))


def used(space) -> int:
    return Space.objects.get(pk=space.pk).used_bytes


def rename(client, node_id, name):
    return client.patch(f"/api/v1/files/{node_id}", {"name": name}, format="json")


def move(client, node_id, path, **extra):
    return client.post(f"/api/v1/files/{node_id}/move", {"path": path, **extra}, format="json")


def copy(client, node_id, path, **extra):
    return client.post(f"/api/v1/files/{node_id}/copy", {"path": path, **extra}, format="json")


# --- Folders -------------------------------------------------------------------------------------------

def test_creating_a_folder_makes_its_missing_parents_and_is_audited(client, team):
    response = mkdir(client, team, "/a/b/c")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["path"] == "/a/b/c" and body["kind"] == "folder" and body["name"] == "c"
    assert names_in(client, team, "/") == ["a"]
    assert names_in(client, team, "/a") == ["b"]
    assert names_in(client, team, "/a/b") == ["c"]
    event = last_event(Action.FOLDER_CREATED, space=team)
    assert event.target_label == "/a/b/c" and event.target_id == str(body["id"])


def test_creating_a_folder_that_exists_answers_200_with_the_same_folder(client, team):
    first = mkdir(client, team, "/a/b")
    again = mkdir(client, team, "/a/b")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert len(events(Action.FOLDER_CREATED, space=team)) == 1


def test_creating_a_folder_where_a_file_is_in_the_way_is_a_conflict(client, team, upload):
    upload(client, team, "/docs/report.txt", b"hello")
    assert_error(mkdir(client, team, "/docs/report.txt"), 409, "not_a_folder")
    assert_error(mkdir(client, team, "/docs/report.txt/inner"), 409, "not_a_folder")
    assert live_nodes(team) == ["docs", "report.txt"]


def test_a_folder_path_with_a_different_case_reuses_the_existing_folder(client, team):
    docs = folder(client, team, "/Docs")
    inner = mkdir(client, team, "/DOCS/inner")
    assert inner.status_code == 201, inner.content
    assert inner.json()["path"] == "/Docs/inner"
    assert Node.objects.get(pk=inner.json()["id"]).parent_id == docs.id
    assert names_in(client, team, "/") == ["Docs"]


# --- Names ---------------------------------------------------------------------------------------------

INVALID_NAMES = {
    "empty": "",
    "slash": "a/b",
    "backslash": "a\\b",
    "nul": "a\x00b",
    "control character": "a\x01b",
    "tab": "a\tb",
    "delete": "a\x7fb",
    "newline": "a\nb",
    "dot": ".",
    "dot dot": "..",
    "trailing space": "name ",
    "trailing dot": "name.",
    "over 255 bytes of UTF-8 in 100 characters": "€" * 100,
}


@pytest.mark.parametrize("name", INVALID_NAMES.values(), ids=INVALID_NAMES.keys())
def test_renaming_to_an_invalid_name_is_refused_and_changes_nothing(client, team, make_file, name):
    node = make_file(folder(client, team, "/docs"), "good.txt")
    response = rename(client, node.id, name)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"invalid_name", "invalid_input"}
    node.refresh_from_db()
    assert node.name == "good.txt"
    assert not events(Action.FILE_RENAMED)


PATH_NAMES = {key: value for key, value in INVALID_NAMES.items() if key not in {"empty", "slash"}}


@pytest.mark.parametrize("name", PATH_NAMES.values(), ids=PATH_NAMES.keys())
def test_creating_a_folder_with_an_invalid_name_is_refused_and_creates_nothing(client, team, name):
    response = mkdir(client, team, f"/parent/{name}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"invalid_name", "invalid_path", "invalid_input"}
    assert live_nodes(team) == []
    assert not events(Action.FOLDER_CREATED)


@pytest.mark.parametrize("name", PATH_NAMES.values(), ids=PATH_NAMES.keys())
def test_uploading_under_an_invalid_name_is_refused(client, team, upload, name):
    response = upload.start(client, team, f"/{name}", b"x")
    assert response.status_code == 400, response.content
    assert live_nodes(team) == []


def test_a_destination_whose_name_ends_in_a_space_is_refused_not_trimmed(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    assert move(client, meta["id"], "/g.txt ").status_code == 400
    assert copy(client, meta["id"], "/h.txt ").status_code == 400
    assert names_in(client, team, "/") == ["f.txt"]


def test_a_name_of_exactly_255_bytes_of_utf8_is_accepted(client, team):
    name = "€" * 85  # 255 bytes
    response = mkdir(client, team, f"/{name}")
    assert response.status_code == 201, response.content
    assert response.json()["name"] == name


def test_names_are_stored_in_nfc_so_decomposed_and_composed_forms_are_one_name(client, team):
    decomposed, composed = "Cafe\u0301", "Caf\u00e9"
    first = mkdir(client, team, f"/{decomposed}")
    assert first.status_code == 201, first.content
    assert first.json()["name"] == composed
    again = mkdir(client, team, f"/{composed}")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert names_in(client, team, "/") == [composed]
    assert tree(client, team, f"/{decomposed}").status_code == 200


def test_names_that_differ_only_by_case_cannot_share_a_folder(client, team, upload):
    report = upload(client, team, "/Report.txt", b"one")
    other = upload(client, team, "/other.txt", b"two")
    assert_error(rename(client, other["id"], "report.TXT"), 409, "name_taken")
    assert_error(move(client, other["id"], "/REPORT.txt"), 409, "name_taken")
    assert_error(copy(client, other["id"], "/report.TXT"), 409, "name_taken")
    assert_error(mkdir(client, team, "/report.TXT"), 409, "not_a_folder")
    assert names_in(client, team, "/") == ["other.txt", "Report.txt"]
    assert Node.objects.get(pk=report["id"]).name == "Report.txt"


def test_a_file_can_be_renamed_to_another_case_of_its_own_name(client, team, upload):
    report = upload(client, team, "/report.txt", b"one")
    response = rename(client, report["id"], "REPORT.txt")
    assert response.status_code == 200, response.content
    assert names_in(client, team, "/") == ["REPORT.txt"]


@pytest.mark.parametrize("path", ["/a/../b", "/a/./b", "/../b", "a/..", "/a\\..\\b"])
def test_path_traversal_is_refused_and_creates_nothing(client, team, path):
    response = mkdir(client, team, path)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"invalid_name", "invalid_path"}
    assert live_nodes(team) == []


def test_path_traversal_in_a_listing_or_a_move_is_refused(client, team, make_file):
    folder(client, team, "/b")
    node = make_file(folder(client, team, "/a"), "f.txt")
    assert tree(client, team, "/a/../b").status_code == 400
    assert move(client, node.id, "/a/../b/f.txt").status_code == 400
    assert names_in(client, team, "/a") == ["f.txt"]


# --- Listing -------------------------------------------------------------------------------------------

@pytest.fixture
def mixed(client, team, make_file):
    """Folders "zeta" and "Alpha"; files a.txt (30 bytes, oldest), b.txt (10) and C.txt (20, newest)."""
    folder(client, team, "/zeta")
    folder(client, team, "/Alpha")
    root = Node.objects.get(space=team, parent__isnull=True)
    now = timezone.now()
    for name, size, age in [("b.txt", 10, 2), ("a.txt", 30, 3), ("C.txt", 20, 1)]:
        node = make_file(root, name, size=size)
        Node.objects.filter(pk=node.pk).update(modified_at=now - timedelta(days=age))
    return team


@pytest.mark.parametrize("params, folders, files", [
    ({}, ["Alpha", "zeta"], ["a.txt", "b.txt", "C.txt"]),
    ({"sort": "name", "order": "asc"}, ["Alpha", "zeta"], ["a.txt", "b.txt", "C.txt"]),
    ({"sort": "name", "order": "desc"}, ["zeta", "Alpha"], ["C.txt", "b.txt", "a.txt"]),
    ({"sort": "modified", "order": "asc"}, None, ["a.txt", "b.txt", "C.txt"]),
    ({"sort": "modified", "order": "desc"}, None, ["C.txt", "b.txt", "a.txt"]),
    ({"sort": "size", "order": "asc"}, None, ["b.txt", "C.txt", "a.txt"]),
    ({"sort": "size", "order": "desc"}, None, ["a.txt", "C.txt", "b.txt"]),
], ids=["default", "name-asc", "name-desc", "modified-asc", "modified-desc", "size-asc", "size-desc"])
def test_a_listing_puts_folders_first_then_sorts_by_the_chosen_key(client, mixed, params, folders, files):
    """Names compare ignoring case; folders (all of size 0) come first in either order."""
    listed = names_in(client, mixed, "/", **params)
    assert sorted(listed[:2]) == ["Alpha", "zeta"]
    if folders is not None:
        assert listed[:2] == folders
    assert listed[2:] == files


def test_a_listing_describes_the_folder_and_each_entry(client, mixed):
    body = tree(client, mixed, "/").json()
    assert set(body) == {"folder", "count", "next", "previous", "results"}
    assert body["folder"]["path"] == "/" and body["count"] == 5
    entry = next(e for e in body["results"] if e["name"] == "a.txt")
    assert entry["path"] == "/a.txt" and entry["size"] == 30 and entry["kind"] == "file" and entry["version"] == 1


def test_a_listing_is_paginated(client, mixed):
    first = tree(client, mixed, "/", page_size=2).json()
    assert first["count"] == 5 and first["previous"] is None and first["next"]
    pages = [first["results"]]
    for page in (2, 3):
        pages.append(tree(client, mixed, "/", page_size=2, page=page).json()["results"])
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e["name"] for p in pages for e in p] == ["Alpha", "zeta", "a.txt", "b.txt", "C.txt"]
    last = tree(client, mixed, "/", page_size=2, page=3).json()
    assert last["next"] is None and last["previous"]


def test_an_unknown_sort_or_order_is_refused(client, mixed):
    assert_error(tree(client, mixed, "/", sort="colour"), 400, "invalid_sort")
    assert_error(tree(client, mixed, "/", order="sideways"), 400, "invalid_order")


def test_a_path_given_in_another_case_answers_with_the_stored_path(client, team, upload):
    upload(client, team, "/Docs/Report.txt", b"hello")
    assert tree(client, team, "/docs/report.TXT").json()["path"] == "/Docs/Report.txt"
    listing = tree(client, team, "/DOCS").json()
    assert listing["folder"]["path"] == "/Docs"
    assert [e["path"] for e in listing["results"]] == ["/Docs/Report.txt"]


def test_listing_a_missing_folder_is_not_found(client, team):
    assert_error(tree(client, team, "/nowhere"), 404, "not_found")


def test_a_file_path_answers_with_the_files_metadata(client, team, upload):
    meta = upload(client, team, "/docs/report.txt", b"hello")
    body = tree(client, team, "/docs/report.txt").json()
    assert body["id"] == meta["id"] and body["path"] == "/docs/report.txt"
    assert body["size"] == 5 and body["version"] == 1 and body["kind"] == "file"


@pytest.mark.parametrize("sort", ["name", "size", "modified"])
def test_listing_10_or_300_entries_takes_the_same_number_of_queries(client, team, make_file, sort):
    make_file.many(folder(client, team, "/small"), 8)
    folder(client, team, "/small/sub1")
    folder(client, team, "/small/sub2")
    make_file.many(folder(client, team, "/large"), 290, size=7)
    for i in range(10):
        folder(client, team, f"/large/sub{i}")

    def count(path):
        with CaptureQueriesContext(connection) as queries:
            response = tree(client, team, path, sort=sort, page_size=1000)
        assert response.status_code == 200 and response.json()["count"] in (10, 300)
        assert len(response.json()["results"]) == response.json()["count"]
        return len(queries)

    assert count("/large") == count("/small")


# --- Get by id -----------------------------------------------------------------------------------------

def test_a_node_inside_a_trashed_folder_is_not_found_by_id_or_path(client, team, make_file):
    node = make_file(folder(client, team, "/a/b"), "f.txt")
    assert client.get(f"/api/v1/files/{node.id}").status_code == 200
    a = Node.objects.get(space=team, name="a")
    assert client.delete(f"/api/v1/files/{a.id}").status_code == 200
    assert_error(client.get(f"/api/v1/files/{node.id}"), 404, "not_found")
    assert_error(tree(client, team, "/a/b/f.txt"), 404, "not_found")


def test_an_id_beyond_any_integer_is_simply_not_found(client, team):
    huge = "9" * 30
    assert_error(client.get(f"/api/v1/files/{huge}"), 404, "not_found")
    assert_error(client.get(f"/api/v1/spaces/{huge}/tree/"), 404, "not_found")
    assert_error(client.post(f"/api/v1/trash/{huge}/restore", {}, format="json"), 404, "not_found")
    assert_error(client.get(f"/api/v1/files/{huge}/versions"), 404, "not_found")


def test_a_path_deeper_than_64_folders_is_refused(client, team):
    assert_error(mkdir(client, team, "/d" * 65), 400, "invalid_path")
    assert live_nodes(team) == []
    assert mkdir(client, team, "/d" * 64).status_code == 201


def test_a_path_that_is_not_text_is_refused(client, team):
    assert_error(mkdir(client, team, 42), 400, "invalid_input")
    assert_error(mkdir(client, team, None), 400, "invalid_input")
    assert live_nodes(team) == []


# --- Rename --------------------------------------------------------------------------------------------

def test_renaming_a_file_changes_its_name_and_is_audited(client, team, upload):
    meta = upload(client, team, "/docs/old.txt", b"hello")
    response = rename(client, meta["id"], "new.txt")
    assert response.status_code == 200, response.content
    assert response.json()["path"] == "/docs/new.txt"
    assert names_in(client, team, "/docs") == ["new.txt"]
    event = last_event(Action.FILE_RENAMED, space=team)
    assert event.details == {"from": "/docs/old.txt", "to": "/docs/new.txt"}
    assert event.actor_label == "alice"


def test_renaming_to_a_taken_name_is_a_conflict(client, team, upload):
    upload(client, team, "/a.txt", b"a")
    b = upload(client, team, "/b.txt", b"b")
    body = assert_error(rename(client, b["id"], "a.txt"), 409, "name_taken")
    assert body["detail"]["path"] == "/a.txt"
    assert names_in(client, team, "/") == ["a.txt", "b.txt"]


def test_renaming_a_folder_moves_what_it_holds_with_it(client, team, make_file):
    docs = folder(client, team, "/docs")
    node = make_file(docs, "f.txt")
    assert rename(client, docs.id, "papers").status_code == 200
    assert client.get(f"/api/v1/files/{node.id}").json()["path"] == "/papers/f.txt"


def test_the_root_folder_cannot_be_renamed_or_deleted(client, team):
    root_id = tree(client, team, "/").json()["folder"]["id"]
    assert_error(rename(client, root_id, "x"), 400, "root_folder")
    assert_error(client.delete(f"/api/v1/files/{root_id}"), 400, "root_folder")


# --- Move ----------------------------------------------------------------------------------------------

def test_moving_a_file_within_a_space_changes_its_path_and_is_audited(client, team, upload):
    meta = upload(client, team, "/a/f.txt", b"hello")
    folder(client, team, "/b")
    response = move(client, meta["id"], "/b/g.txt")
    assert response.status_code == 200, response.content
    assert response.json()["path"] == "/b/g.txt"
    assert names_in(client, team, "/a") == [] and names_in(client, team, "/b") == ["g.txt"]
    event = last_event(Action.FILE_MOVED, space=team)
    assert event.details["from"] == "/a/f.txt" and event.details["to"] == "/b/g.txt"
    assert used(team) == 5


def test_moving_a_folder_to_another_space_moves_its_contents_and_their_quota(client, alice, team, upload):
    other = space_create(actor=alice, name="Other")
    upload(client, team, "/proj/one.bin", b"1" * 100)
    inner = upload(client, team, "/proj/sub/two.bin", b"2" * 50)
    upload(client, team, "/proj/sub/two.bin", b"2" * 60)  # a second version moves too
    proj = Node.objects.get(space=team, name="proj")
    assert used(team) == 210 and used(other) == 0

    response = move(client, proj.id, "/imported", space=other.id)
    assert response.status_code == 200, response.content
    assert response.json()["space"] == other.id and response.json()["path"] == "/imported"
    assert used(team) == 0 and used(other) == 210
    assert names_in(client, team, "/") == []
    assert names_in(client, other, "/imported") == ["sub", "one.bin"]
    moved = client.get(f"/api/v1/files/{inner['id']}").json()
    assert moved["space"] == other.id and moved["path"] == "/imported/sub/two.bin"
    assert set(Node.objects.filter(parent__in=Node.objects.filter(space=other)).values_list("space", flat=True)) \
        == {other.id}
    event = last_event(Action.FILE_MOVED, space=other)
    assert event.details["from_space"] == team.id and event.details["from"] == "/proj"


def test_moving_to_another_space_beyond_its_quota_is_refused_and_moves_nothing(client, alice, team, upload):
    other = space_create(actor=alice, name="Other")
    Space.objects.filter(pk=other.pk).update(quota_bytes=99)
    meta = upload(client, team, "/big.bin", b"x" * 100)
    assert_error(move(client, meta["id"], "/big.bin", space=other.id), 507, "quota_exceeded")
    assert used(team) == 100 and used(other) == 0
    assert names_in(client, team, "/") == ["big.bin"] and names_in(client, other, "/") == []


def test_a_folder_cannot_be_moved_into_its_own_subtree(client, team):
    a = folder(client, team, "/a")
    folder(client, team, "/a/b")
    assert_error(move(client, a.id, "/a/b/a"), 400, "into_itself")
    assert_error(move(client, a.id, "/a/a"), 400, "into_itself")
    assert names_in(client, team, "/") == ["a"]


def test_moving_into_a_space_where_the_actor_is_only_a_viewer_is_forbidden(client, alice, bob, team, upload):
    bobs = space_create(actor=bob, name="Bob's")
    Membership.objects.create(space=bobs, user=alice, role=Role.VIEWER)
    meta = upload(client, team, "/f.txt", b"hello")
    assert_error(move(client, meta["id"], "/f.txt", space=bobs.id), 403, "forbidden")
    assert names_in(client, team, "/") == ["f.txt"] and used(bobs) == 0


def test_moving_into_a_space_the_actor_is_not_in_looks_like_a_missing_space(client, bob, team, upload):
    bobs = space_create(actor=bob, name="Bob's")
    meta = upload(client, team, "/f.txt", b"hello")
    outsider = assert_error(move(client, meta["id"], "/f.txt", space=bobs.id), 404, "not_found")
    missing = assert_error(move(client, meta["id"], "/f.txt", space=999_999), 404, "not_found")
    assert outsider == missing
    assert names_in(client, team, "/") == ["f.txt"]


def test_moving_to_a_missing_folder_is_not_found(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    assert_error(move(client, meta["id"], "/nowhere/f.txt"), 404, "not_found")


# --- Copy ----------------------------------------------------------------------------------------------

def test_a_copy_shares_the_stored_bytes_but_counts_against_the_quota(client, team, upload):
    meta = upload(client, team, "/f.txt", b"hello")
    response = copy(client, meta["id"], "/copies/f.txt")
    assert response.status_code == 404  # the destination folder must exist
    folder(client, team, "/copies")
    response = copy(client, meta["id"], "/copies/f.txt")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["path"] == "/copies/f.txt" and body["version"] == 1 and body["size"] == 5
    source = FileVersion.objects.get(node_id=meta["id"])
    duplicate = FileVersion.objects.get(node_id=body["id"])
    assert duplicate.blob_id == source.blob_id
    assert used(team) == 10
    event = last_event(Action.FILE_COPIED, space=team)
    assert event.details["source_id"] == meta["id"] and event.details["from"] == "/f.txt"
    assert event.target_label == "/copies/f.txt"


def test_copying_a_folder_copies_its_live_contents_only(client, team, upload):
    upload(client, team, "/proj/keep.txt", b"keep")
    gone = upload(client, team, "/proj/gone.txt", b"gone!")
    client.delete(f"/api/v1/files/{gone['id']}")
    proj = Node.objects.get(space=team, name="proj")
    response = copy(client, proj.id, "/proj2")
    assert response.status_code == 201, response.content
    assert names_in(client, team, "/proj2") == ["keep.txt"]
    assert used(team) == 4 + 5 + 4


def test_a_copy_beyond_the_destination_quota_is_refused_and_creates_nothing(client, alice, team, upload):
    other = space_create(actor=alice, name="Other")
    Space.objects.filter(pk=other.pk).update(quota_bytes=4)
    meta = upload(client, team, "/f.txt", b"hello")
    assert_error(copy(client, meta["id"], "/f.txt", space=other.id), 507, "quota_exceeded")
    assert names_in(client, other, "/") == [] and used(other) == 0
    Space.objects.filter(pk=team.pk).update(quota_bytes=9)
    assert_error(copy(client, meta["id"], "/g.txt"), 507, "quota_exceeded")
    assert names_in(client, team, "/") == ["f.txt"] and used(team) == 5
    assert not events(Action.FILE_COPIED)


def test_a_folder_cannot_be_copied_into_itself(client, team):
    a = folder(client, team, "/a")
    assert_error(copy(client, a.id, "/a/copy"), 400, "into_itself")


def test_a_viewer_can_copy_a_file_into_a_space_they_can_write(signed_in, team, member_of, upload, client):
    meta = upload(client, team, "/f.txt", b"hello")
    viewer = member_of(Role.VIEWER)
    mine = space_create(actor=viewer, name="Mine")
    response = copy(signed_in(viewer), meta["id"], "/f.txt", space=mine.id)
    assert response.status_code == 201, response.content
    assert used(mine) == 5


# --- Who may do what -----------------------------------------------------------------------------------

def test_a_viewer_can_read_but_not_create_rename_move_copy_or_delete(signed_in, client, team, member_of, upload):
    meta = upload(client, team, "/docs/f.txt", b"hello")
    viewer = signed_in(member_of(Role.VIEWER))
    assert names_in(viewer, team, "/docs") == ["f.txt"]
    assert viewer.get(f"/api/v1/files/{meta['id']}").status_code == 200
    assert_error(mkdir(viewer, team, "/new"), 403, "forbidden")
    assert_error(rename(viewer, meta["id"], "g.txt"), 403, "forbidden")
    assert_error(move(viewer, meta["id"], "/g.txt"), 403, "forbidden")
    assert_error(copy(viewer, meta["id"], "/g.txt"), 403, "forbidden")
    assert_error(viewer.delete(f"/api/v1/files/{meta['id']}"), 403, "forbidden")
    assert live_nodes(team) == ["docs", "f.txt"]


def test_an_editor_can_create_rename_move_and_delete(signed_in, client, team, member_of, upload):
    meta = upload(client, team, "/docs/f.txt", b"hello")
    editor = signed_in(member_of(Role.EDITOR))
    assert mkdir(editor, team, "/new").status_code == 201
    assert rename(editor, meta["id"], "g.txt").status_code == 200
    assert move(editor, meta["id"], "/new/g.txt").status_code == 200
    assert copy(editor, meta["id"], "/h.txt").status_code == 201
    assert editor.delete(f"/api/v1/files/{meta['id']}").status_code == 200


def test_an_outsider_gets_404_for_everything_as_for_a_missing_id(signed_in, bob, client, team, upload):
    meta = upload(client, team, "/docs/f.txt", b"hello")
    outsider = signed_in(bob)
    node = f"/api/v1/files/{meta['id']}"
    missing = "/api/v1/files/999999"
    for method, suffix, body in [("get", "", None), ("patch", "", {"name": "g.txt"}), ("delete", "", None),
                                 ("post", "/move", {"path": "/g.txt"}), ("post", "/copy", {"path": "/g.txt"}),
                                 ("get", "/versions", None)]:
        call = getattr(outsider, method)
        answer = call(node + suffix, body, format="json") if body else call(node + suffix)
        expected = call(missing + suffix, body, format="json") if body else call(missing + suffix)
        assert_error(answer, 404, "not_found")
        assert answer.json() == expected.json(), f"{method} {suffix}"
    assert_error(tree(outsider, team, "/docs"), 404, "not_found")
    assert_error(mkdir(outsider, team, "/x"), 404, "not_found")
    assert_error(outsider.get(f"/api/v1/spaces/{team.id}/trash"), 404, "not_found")
    assert live_nodes(team) == ["docs", "f.txt"]


def test_an_anonymous_request_is_refused(api, team):
    response = api.get(f"/api/v1/spaces/{team.id}/tree/")
    assert response.status_code in (401, 403)


# --- Archived spaces -----------------------------------------------------------------------------------

def test_an_archived_space_can_be_read_but_refuses_every_write(client, alice, team, upload):
    meta = upload(client, team, "/docs/f.txt", b"hello")
    other = space_create(actor=alice, name="Other")
    elsewhere = upload(client, other, "/e.txt", b"e")
    space_update(actor=alice, space_id=team.id, archived=True)
    assert names_in(client, team, "/docs") == ["f.txt"]
    assert_error(mkdir(client, team, "/new"), 409, "archived")
    assert_error(rename(client, meta["id"], "g.txt"), 409, "archived")
    assert_error(move(client, meta["id"], "/g.txt"), 409, "archived")
    assert_error(copy(client, meta["id"], "/g.txt"), 409, "archived")
    assert_error(client.delete(f"/api/v1/files/{meta['id']}"), 409, "archived")
    assert_error(move(client, elsewhere["id"], "/e.txt", space=team.id), 409, "archived")
    assert_error(upload.start(client, team, "/docs/new.txt", b"x"), 409, "archived")
    assert live_nodes(team) == ["docs", "f.txt"]
    # Reading out of an archived space is fine.
    assert copy(client, meta["id"], "/f.txt", space=other.id).status_code == 201


def test_a_folder_has_the_kind_folder_and_no_version(client, team):
    body = mkdir(client, team, "/a").json()
    assert body["kind"] == NodeKind.FOLDER and body["version"] is None and body["size"] == 0
