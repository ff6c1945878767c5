"""Completing uploads at the same instant, on PostgreSQL with real threads
(each its own connection): quota, idempotence and version numbers stay right."""

from __future__ import annotations

import os

import pytest

from portal.audit.actions import Action
from portal.core.errors import PortalError
from portal.files.models import FileVersion, Node, NodeKind, UploadSession
from portal.files.services.uploads import upload_complete
from portal.spaces.models import Space
from tests.files.support_s3 import MiB, ready_upload, use_local, use_s3
from tests.helpers import at_once, events

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(params=["local", "s3"])
def backend(request, settings, tmp_path):
    settings.UPLOAD_PART_SIZE = 5 * MiB
    if request.param == "local":
        return use_local(settings, tmp_path / "objects")
    return use_s3(settings, request.getfixturevalue("seaweed"))


def complete_call(actor, session):
    return lambda: upload_complete(actor=actor, upload_id=session.pk)


def stored(store, version: FileVersion) -> bytes:
    with store.open(version.blob.key) as stream:
        return stream.read()


def test_two_uploads_that_together_exceed_the_quota_cannot_both_complete(alice, team, backend):
    Space.objects.filter(pk=team.pk).update(quota_bytes=5 * MiB)
    data = [os.urandom(3 * MiB), os.urandom(3 * MiB + 1)]
    sessions = [ready_upload(backend, alice, team, f"/q{i}.bin", body) for i, body in enumerate(data)]

    results = at_once(*(complete_call(alice, s) for s in sessions))

    won = [i for i, r in enumerate(results) if isinstance(r, FileVersion)]
    lost = [i for i, r in enumerate(results) if not isinstance(r, FileVersion)]
    assert len(won) == 1 and len(lost) == 1, results
    winner, loser = won[0], lost[0]
    error = results[loser]
    assert isinstance(error, PortalError) and (error.status, error.code) == (507, "quota_exceeded"), error
    assert Space.objects.get(pk=team.pk).used_bytes == len(data[winner])
    assert FileVersion.objects.count() == 1
    assert stored(backend, results[winner]) == data[winner]
    loser_session = UploadSession.objects.get(pk=sessions[loser].pk)
    assert loser_session.state == "aborted" and loser_session.version is None
    assert not backend.exists(sessions[loser].key)  # the loser's assembled object is removed


def test_one_upload_completed_from_four_threads_makes_one_version(alice, team, backend):
    data = os.urandom(10 * MiB + 77)
    session = ready_upload(backend, alice, team, "/once.bin", data)

    results = at_once(*(complete_call(alice, session) for _ in range(4)))

    versions = [r for r in results if isinstance(r, FileVersion)]
    errors = [r for r in results if not isinstance(r, FileVersion)]
    assert versions, results
    assert all(isinstance(e, PortalError) and 400 <= e.status < 500 for e in errors), errors
    assert {v.pk for v in versions} == {versions[0].pk} and {v.node_id for v in versions} == {versions[0].node_id}
    assert FileVersion.objects.count() == 1 and versions[0].number == 1
    assert Node.objects.filter(space=team, kind=NodeKind.FILE).count() == 1
    assert Space.objects.get(pk=team.pk).used_bytes == len(data)
    assert len(events(Action.FILE_UPLOADED, space=team)) == 1
    assert stored(backend, FileVersion.objects.get()) == data
    # Whoever got an error can simply ask again and gets the same version.
    assert upload_complete(actor=alice, upload_id=session.pk).pk == versions[0].pk


def test_two_uploads_to_the_same_new_path_become_versions_one_and_two(alice, team, backend):
    data = [os.urandom(2 * MiB), os.urandom(2 * MiB + 5)]
    sessions = [ready_upload(backend, alice, team, "/new/deep/same.bin", body) for body in data]

    results = at_once(*(complete_call(alice, s) for s in sessions))

    assert all(isinstance(r, FileVersion) for r in results), results
    assert sorted(r.number for r in results) == [1, 2]
    assert len({r.node_id for r in results}) == 1
    assert Node.objects.filter(space=team, kind=NodeKind.FILE).count() == 1
    assert list(Node.objects.filter(space=team, kind=NodeKind.FOLDER).exclude(parent=None)
                .values_list("name", flat=True).order_by("name")) == ["deep", "new"]
    node = Node.objects.select_related("current_version").get(kind=NodeKind.FILE)
    latest = next(r for r in results if r.number == 2)
    assert node.current_version_id == latest.pk and node.size == latest.size
    assert Space.objects.get(pk=team.pk).used_bytes == sum(map(len, data))
    for result in results:
        assert stored(backend, result) == data[[s.pk for s in sessions].index(
            UploadSession.objects.get(version=result).pk)]


def test_two_uploads_with_the_same_if_match_cannot_both_win(alice, team, backend):
    first = ready_upload(backend, alice, team, "/doc.txt", b"v1")
    upload_complete(actor=alice, upload_id=first.pk)
    edits = [ready_upload(backend, alice, team, "/doc.txt", body, if_match=1) for body in (b"edit A", b"edit B")]

    results = at_once(*(complete_call(alice, s) for s in edits))

    won = [r for r in results if isinstance(r, FileVersion)]
    lost = [r for r in results if not isinstance(r, FileVersion)]
    assert len(won) == 1 and won[0].number == 2, results
    assert len(lost) == 1 and (lost[0].status, lost[0].code) == (409, "version_mismatch"), lost
    assert lost[0].detail == {"current_version": 2}
    assert FileVersion.objects.count() == 2
