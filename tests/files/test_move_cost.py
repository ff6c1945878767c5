"""A folder move costs the same whatever the folder holds: within its space
it changes the folder's own row (the tree is a list of parents), finds the
locks inside from the locks, and reads the subtree for holds and retention
only where a hold or a policy exists; across spaces one statement per table
carries the subtree, search rows included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal.core.errors import Locked, NotFound
from portal.files import names
from portal.files.models import Node, NodeKind
from portal.files.selectors import space_root, subtree_ids
from portal.files.services import tree
from portal.locks.models import Lock, LockDepth, LockKind
from portal.search import index
from portal.search.models import SearchDoc

pytestmark = pytest.mark.django_db


def _folder(parent: Node, name: str) -> Node:
    return Node.objects.create(space_id=parent.space_id, parent=parent, kind=NodeKind.FOLDER, name=name,
                               name_key=names.name_key(name))


def _filled(team, name: str, boxes: int, make_file) -> Node:
    """/<name> holding ``boxes`` folders of 10 files each."""
    top = _folder(space_root(team), name)
    for i in range(boxes):
        make_file.many(_folder(top, f"box-{i}"), 10, names=[f"f-{j}.txt" for j in range(10)])
    return top


def _lock(node: Node, owner) -> Lock:
    now = timezone.now()
    return Lock.objects.create(node=node, owner=owner, kind=LockKind.MANUAL, depth=LockDepth.ZERO, created_at=now,
                               refreshed_at=now, expires_at=now + timedelta(hours=1), timeout_seconds=3600)


def _moved(alice, folder: Node, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        tree.node_move(actor=alice, node_id=folder.pk, path=path)
    return [query["sql"] for query in queries]


def test_a_move_in_its_space_sends_the_same_statements_for_a_few_or_many_descendants(alice, team, make_file):
    small, big = _filled(team, "small", 1, make_file), _filled(team, "big", 12, make_file)
    index.index_subtree(big.pk)
    few, many = _moved(alice, small, "/small-moved"), _moved(alice, big, "/big-moved")
    assert len(few) == len(many), (few, many)
    assert not any("down" in sql or "search_doc" in sql for sql in many), many  # no walk below, no index rows
    assert Node.objects.get(pk=big.pk).name == "big-moved"
    assert set(SearchDoc.objects.filter(node_id__in=subtree_ids(big)).values_list("space_id", flat=True)) == {team.pk}


def test_a_lock_deep_inside_still_stops_the_move_and_one_under_a_trashed_folder_does_not(alice, team, make_file,
                                                                             member_of):
    bob = member_of("editor", "bob")
    top = _filled(team, "top", 2, make_file)
    deep = make_file(_folder(_folder(Node.objects.get(parent=top, name="box-0"), "a"), "b"), "deep.txt")
    lock = _lock(deep, bob)
    with pytest.raises(Locked):
        tree.node_move(actor=alice, node_id=top.pk, path="/elsewhere")
    # A lock left under a folder in the trash (the trash itself refuses while it holds): not what moves.
    Node.objects.filter(parent=top, name="box-0").update(trashed_at=timezone.now())
    tree.node_move(actor=alice, node_id=top.pk, path="/elsewhere")
    assert Node.objects.get(pk=top.pk).name == "elsewhere" and Lock.objects.filter(pk=lock.pk).exists()


def test_a_move_to_another_space_carries_the_subtree_and_its_search_rows(alice, team, make_file):
    top = _filled(team, "top", 3, make_file)
    index.index_subtree(top.pk)
    mine = alice.memberships.exclude(space=team).get().space
    tree.node_move(actor=alice, node_id=top.pk, path="/top", space_id=mine.pk)
    ids = subtree_ids(top)
    assert len(ids) == 34
    assert set(Node.objects.filter(pk__in=ids).values_list("space_id", flat=True)) == {mine.pk}
    assert set(SearchDoc.objects.filter(node_id__in=ids).values_list("space_id", flat=True)) == {mine.pk}


def test_an_outsider_cannot_move_a_folder(bob, team, make_file):
    top = _filled(team, "top", 1, make_file)
    with pytest.raises(NotFound):
        tree.node_move(actor=bob, node_id=top.pk, path="/mine")
