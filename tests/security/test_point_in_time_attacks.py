"""Attacks on restore to a point in time (portal.files.services.point_in_time).
Each test is one attack; it passes when the defence holds."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from portal.files.models import Node
from portal.files.services import direct, point_in_time, tree
from portal.spaces.services import space_create

pytestmark = pytest.mark.django_db


def _put(actor, space, path: str, data: bytes = b"data"):
    return direct.file_put(actor=actor, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data))


def test_a_restore_never_puts_a_file_into_a_folder_moved_to_another_space_meanwhile(alice, monkeypatch):
    """The folder a file goes back to leaves the space while the restore runs (between its plan and its
    batch): the file stays where it is rather than hanging in this space under a folder of another."""
    team, other = space_create(actor=alice, name="Team"), space_create(actor=alice, name="Elsewhere")
    node = _put(alice, team, "/A/f.txt").node
    tree.folder_create(actor=alice, space_id=team.pk, path="/B")
    at = timezone.now()
    tree.node_move(actor=alice, node_id=node.pk, path="/B/f.txt")
    folder_a = Node.objects.get(space=team, name="A")
    apply_batch = point_in_time._apply_batch

    def meanwhile(*args, **kwargs):   # a concurrent request, just before the batch takes its locks
        tree.node_move(actor=alice, node_id=folder_a.pk, path="/A", space_id=other.pk)
        return apply_batch(*args, **kwargs)

    monkeypatch.setattr(point_in_time, "_apply_batch", meanwhile)
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=at)
    node.refresh_from_db()
    assert node.space_id == Node.objects.get(pk=node.parent_id).space_id == team.pk
    assert (run.counts["place"], run.counts["skipped"]) == (0, 1)


def test_a_restore_honours_a_lock_taken_on_the_folder_a_file_goes_back_to_while_it_runs(alice, make_user,
                                                                                       monkeypatch):
    """Someone locks the folder (a WebDAV collection lock, kind editor) after the plan: the batch reads the locks
    again, and nothing is put into that folder."""
    from portal.locks.models import LockDepth
    from portal.locks.services import lock_acquire
    from portal.spaces.models import Membership

    team = space_create(actor=alice, name="Team")
    carol = make_user(username="carol")
    Membership.objects.create(space=team, user=carol, role="editor")
    node = _put(alice, team, "/A/f.txt").node
    tree.folder_create(actor=alice, space_id=team.pk, path="/B")
    at = timezone.now()
    tree.node_move(actor=alice, node_id=node.pk, path="/B/f.txt")
    folder_a = Node.objects.get(space=team, name="A")
    apply_batch = point_in_time._apply_batch

    def meanwhile(*args, **kwargs):
        lock_acquire(actor=carol, node=folder_a, kind="editor", depth=LockDepth.INFINITY)
        return apply_batch(*args, **kwargs)

    monkeypatch.setattr(point_in_time, "_apply_batch", meanwhile)
    run = point_in_time.point_restore_start(actor=alice, space_id=team.pk, at=at)
    node.refresh_from_db()
    assert node.parent_id != folder_a.pk
    assert (run.counts["place"], run.counts["locked"]) == (0, 1)
