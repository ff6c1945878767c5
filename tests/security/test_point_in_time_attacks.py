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
