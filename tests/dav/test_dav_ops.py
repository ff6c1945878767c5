"""WebDAV's composite changes (portal.files.services.dav_ops): each is one
transaction, so a refusal anywhere leaves nothing half done, and the
services it calls record the audit events (a lock refusal once, after the
rollback)."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.actions import Action
from portal.core.errors import Conflict, Forbidden, InvalidInput, Locked, NotFound
from portal.dav.models import DeadProperty, LockOwner
from portal.dav.services import properties_copy
from portal.files.models import Node
from portal.files.selectors import locate_path, subtree_ids
from portal.files.services.dav_ops import dav_copy, dav_delete, dav_lock_acquire, dav_lock_release, dav_move
from portal.files.services.direct import file_put
from portal.files.services.tree import folder_create
from portal.locks.models import Lock
from portal.locks.services import lock_acquire
from portal.spaces.services import member_add
from tests.helpers import events

LOCK = {"owner_xml": '<D:owner xmlns:D="DAV:">Alice</D:owner>', "note": "Alice", "client": "litmus",
        "scope": "exclusive", "depth": "0"}


def put(actor, space, path: str, data: bytes = b"data") -> Node:
    return file_put(actor=actor, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data)).node


def at(actor, space, path: str):
    return locate_path(actor, space.pk, path)


def live(node: Node) -> bool:
    return Node.objects.get(pk=node.pk).trashed_at is None


@pytest.fixture
def carol(make_user):
    return make_user(username="carol")


@pytest.fixture
def bob_edits(team, alice, bob):
    member_add(actor=alice, space_id=team.pk, username=bob.get_username(), role="editor")


# --- dav_delete ---------------------------------------------------------------------------


def test_a_webdav_delete_trashes_the_node_and_releases_the_deleters_own_locks_inside(team, alice):
    folder_create(actor=alice, space_id=team.pk, path="/Plans")
    doc = put(alice, team, "/Plans/q3.odt")
    token = dav_lock_acquire(actor=alice, target=at(alice, team, "/Plans/q3.odt"), **LOCK).token

    dav_delete(actor=alice, target=at(alice, team, "/Plans"), lock_tokens=(token,))

    assert not live(Node.objects.get(space=team, name="Plans")) and live(doc)  # the folder holds it in the trash
    assert not Lock.objects.exists()
    assert len(events(Action.LOCK_RELEASED, actor=alice)) == 1 and len(events(Action.FILE_DELETED, actor=alice)) == 1


def test_a_delete_someone_elses_lock_refuses_releases_nothing_and_is_recorded_once(team, alice, bob, bob_edits):
    folder_create(actor=alice, space_id=team.pk, path="/Plans")
    put(alice, team, "/Plans/mine.odt")
    put(alice, team, "/Plans/bobs.odt")
    mine = dav_lock_acquire(actor=alice, target=at(alice, team, "/Plans/mine.odt"), **LOCK).token
    lock_acquire(actor=bob, node=at(bob, team, "/Plans/bobs.odt").node, kind="editor")

    with pytest.raises(Locked):
        dav_delete(actor=alice, target=at(alice, team, "/Plans"), lock_tokens=(mine,))

    assert live(Node.objects.get(space=team, name="Plans"))
    assert Lock.objects.filter(token=mine).exists()  # released only if the folder really goes
    assert not events(Action.LOCK_RELEASED)
    assert len(events(Action.LOCK_WRITE_REFUSED, actor=alice)) == 1


def test_an_outsider_cannot_delete_over_webdav(team, alice, carol):
    doc = put(alice, team, "/doc.txt")
    with pytest.raises(NotFound):
        dav_delete(actor=carol, target=at(alice, team, "/doc.txt"))
    assert live(doc) and not events(Action.FILE_DELETED)


# --- dav_move / dav_copy ---------------------------------------------------------------------


def test_a_move_onto_an_existing_name_trashes_it_and_moves_in_one_change(team, alice):
    source, existing = put(alice, team, "/draft.txt", b"new"), put(alice, team, "/final.txt", b"old")

    moved = dav_move(actor=alice, source=at(alice, team, "/draft.txt"), space_id=team.pk, path="/final.txt",
                     replacing=at(alice, team, "/final.txt"))

    assert moved.pk == source.pk and moved.name == "final.txt"
    assert not live(existing)
    assert len(events(Action.FILE_DELETED, actor=alice)) == 1 and len(events(Action.FILE_MOVED, actor=alice)) == 1


def test_a_refused_move_leaves_the_name_it_would_replace_in_place(team, alice, bob, bob_edits):
    put(alice, team, "/draft.txt")
    existing = put(alice, team, "/final.txt")
    lock_acquire(actor=bob, node=at(bob, team, "/draft.txt").node, kind="editor")

    with pytest.raises(Locked):
        dav_move(actor=alice, source=at(alice, team, "/draft.txt"), space_id=team.pk, path="/final.txt",
                 replacing=at(alice, team, "/final.txt"))

    assert live(existing) and not events(Action.FILE_DELETED)
    assert len(events(Action.LOCK_WRITE_REFUSED, actor=alice)) == 1


def test_a_move_to_a_bad_name_replaces_nothing(team, alice):
    put(alice, team, "/draft.txt")
    existing = put(alice, team, "/final.txt")
    with pytest.raises(InvalidInput):
        dav_move(actor=alice, source=at(alice, team, "/draft.txt"), space_id=team.pk, path="/con.txt",
                 replacing=at(alice, team, "/final.txt"))
    assert live(existing) and not events(Action.FILE_DELETED)


def test_a_copy_takes_the_dead_properties_of_everything_it_copies(team, alice):
    folder_create(actor=alice, space_id=team.pk, path="/A/B/C")
    deep = put(alice, team, "/A/B/C/deep.txt")
    for node in (Node.objects.get(space=team, name="A"), Node.objects.get(space=team, name="C"), deep):
        DeadProperty.objects.create(node=node, name="{urn:x}tag", value=f"<x:tag xmlns:x='urn:x'>{node.name}</x:tag>")

    copy = dav_copy(actor=alice, source=at(alice, team, "/A"), space_id=team.pk, path="/A copy")

    copied = DeadProperty.objects.filter(node_id__in=subtree_ids(copy)).values_list("node__name", "value")
    assert sorted(copied) == [("A copy", "<x:tag xmlns:x='urn:x'>A</x:tag>"),
                              ("C", "<x:tag xmlns:x='urn:x'>C</x:tag>"),
                              ("deep.txt", "<x:tag xmlns:x='urn:x'>deep.txt</x:tag>")]
    assert copy.name == "A copy" and len(events(Action.FILE_COPIED, actor=alice)) == 1


def test_copying_dead_properties_costs_the_same_queries_at_any_depth(team, alice):
    counts = {}
    for depth in (1, 8):
        path = "".join(f"/d{depth}-{i}" for i in range(depth))
        folder_create(actor=alice, space_id=team.pk, path=path)
        source = Node.objects.get(space=team, name=f"d{depth}-0", parent__name="")
        for node_id in subtree_ids(source):
            DeadProperty.objects.create(node_id=node_id, name="{urn:x}tag", value="<x:tag xmlns:x='urn:x'/>")
        folder_create(actor=alice, space_id=team.pk, path=f"/copy-{depth}" + path)
        copy = Node.objects.get(space=team, name=f"d{depth}-0", parent__name=f"copy-{depth}")
        with CaptureQueriesContext(connection) as captured:
            properties_copy(source=source, copy=copy)
        counts[depth] = len(captured)
        assert DeadProperty.objects.filter(node_id__in=subtree_ids(copy)).count() == depth
    assert counts[1] == counts[8], f"queries by depth: {counts}"


def test_a_shallow_copy_of_a_folder_is_an_empty_folder_with_its_properties(team, alice):
    folder_create(actor=alice, space_id=team.pk, path="/A")
    put(alice, team, "/A/inside.txt")
    DeadProperty.objects.create(node=Node.objects.get(space=team, name="A"), name="{urn:x}tag", value="<x:tag/>")

    copy = dav_copy(actor=alice, source=at(alice, team, "/A"), space_id=team.pk, path="/B", shallow=True)

    assert not Node.objects.filter(parent=copy).exists()
    assert DeadProperty.objects.filter(node=copy).count() == 1


def test_an_outsider_cannot_copy_into_a_space(team, alice, carol):
    put(alice, team, "/doc.txt")
    with pytest.raises(NotFound):
        dav_copy(actor=carol, source=at(alice, team, "/doc.txt"), space_id=team.pk, path="/copy.txt")
    assert not Node.objects.filter(name="copy.txt").exists()


# --- dav_lock_acquire / dav_lock_release --------------------------------------------------------


def test_a_webdav_lock_keeps_the_clients_owner_element_until_it_is_released(team, alice):
    put(alice, team, "/doc.txt")
    lock = dav_lock_acquire(actor=alice, target=at(alice, team, "/doc.txt"), **LOCK)
    assert (lock.kind, lock.note) == ("editor", "Alice")
    assert LockOwner.objects.get(token=lock.token).owner_xml == LOCK["owner_xml"]

    dav_lock_release(actor=alice, token=lock.token)
    assert not Lock.objects.exists() and not LockOwner.objects.exists()
    assert len(events(Action.LOCK_ACQUIRED, actor=alice)) == len(events(Action.LOCK_RELEASED, actor=alice)) == 1


def test_a_viewer_cannot_lock_and_no_owner_element_is_kept(team, alice, bob):
    member_add(actor=alice, space_id=team.pk, username=bob.get_username(), role="viewer")
    put(alice, team, "/doc.txt")
    with pytest.raises(Forbidden):
        dav_lock_acquire(actor=bob, target=at(bob, team, "/doc.txt"), **LOCK)
    assert not Lock.objects.exists() and not LockOwner.objects.exists()


def test_releasing_an_unknown_token_is_a_conflict(team, alice):
    with pytest.raises(Conflict):
        dav_lock_release(actor=alice, token="opaquelocktoken:not-a-lock")
