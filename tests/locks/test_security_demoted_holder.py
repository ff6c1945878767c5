"""A lock holder demoted to viewer (or removed from the space) cannot keep
their lock alive: refresh checks the capability to write now, not the one
the lock was taken with. Performed over the API as the holder would."""

from __future__ import annotations

import pytest

from portal.locks.models import Lock
from portal.spaces.services import member_change_role, member_remove
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db


def lock_url(node) -> str:
    return f"/api/v1/files/{node.id}/lock"


def test_a_holder_demoted_to_viewer_cannot_extend_their_lock(signed_in, editor, alice, team, doc):
    client = signed_in(editor)
    token = client.post(lock_url(doc), {"timeout": 60}, format="json").json()["token"]
    before = Lock.objects.get(token=token).expires_at
    member_change_role(actor=alice, space_id=team.pk, user_id=editor.pk, role="viewer")

    body = assert_error(client.patch(lock_url(doc), {"token": token, "timeout": 86400}, format="json"),
                        403, "lock_refresh_forbidden")
    assert "release it" in body["message"]
    lock = Lock.objects.get(token=token)
    assert lock.expires_at == before and lock.timeout_seconds == 60


def test_a_demoted_holder_may_still_release_their_lock(signed_in, editor, alice, team, doc):
    client = signed_in(editor)
    token = client.post(lock_url(doc), format="json").json()["token"]
    member_change_role(actor=alice, space_id=team.pk, user_id=editor.pk, role="viewer")
    assert client.delete(lock_url(doc), {"token": token}, format="json").status_code == 204
    assert not Lock.objects.filter(token=token).exists()


def test_a_removed_holder_cannot_refresh_their_lock_either(signed_in, editor, alice, team, doc):
    client = signed_in(editor)
    token = client.post(lock_url(doc), {"timeout": 60}, format="json").json()["token"]
    before = Lock.objects.get(token=token).expires_at
    member_remove(actor=alice, space_id=team.pk, user_id=editor.pk)
    # They cannot see the file any more: the same "not found" as for any outsider.
    assert_error(client.patch(lock_url(doc), {"token": token, "timeout": 86400}, format="json"), 404, "not_found")
    assert Lock.objects.get(token=token).expires_at == before


def test_an_editor_still_refreshes_their_lock(signed_in, editor, doc):
    client = signed_in(editor)
    token = client.post(lock_url(doc), {"timeout": 60}, format="json").json()["token"]
    assert client.patch(lock_url(doc), {"token": token, "timeout": 600}, format="json").status_code == 200
    assert Lock.objects.get(token=token).timeout_seconds == 600
