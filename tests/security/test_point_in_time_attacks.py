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


def test_a_manager_cannot_preview_restore_or_watch_another_spaces_folder_through_his_own(alice, make_user):
    """The folder id, the run id and the space id are all checked against what the caller manages: a folder of
    another space named through his own space is unknown (404), nothing is planned or changed there."""
    from datetime import timedelta

    from rest_framework.test import APIClient

    from portal.audit.models import AuditEvent
    from portal.files.models import PointRestore
    from tests.helpers import assert_error

    mallory = make_user(username="mallory")
    mine = space_create(actor=mallory, name="Mine")
    secret = _put(alice, space_create(actor=alice, name="HR"), "/Salaries/2027.xlsx").node
    folder = Node.objects.get(pk=secret.parent_id)
    client = APIClient()
    client.force_authenticate(user=mallory)
    at = (timezone.now() - timedelta(seconds=1)).isoformat()
    for url in (f"/api/v1/spaces/{mine.pk}/restore-to-point/preview", f"/api/v1/spaces/{mine.pk}/restore-to-point",
                f"/api/v1/spaces/{folder.space_id}/restore-to-point/preview"):
        body = assert_error(client.post(url, {"at": at, "folder": folder.pk}, format="json"), 404, "not_found")
        assert "Salaries" not in str(body)
    run = PointRestore.objects.create(space_id=folder.space_id, folder=folder, at=timezone.now())
    assert_error(client.get(f"/api/v1/restore-runs/{run.pk}"), 404, "not_found")
    assert not PointRestore.objects.filter(space=mine).exists()
    assert not AuditEvent.objects.filter(action__endswith="restored_to_point").exists()
