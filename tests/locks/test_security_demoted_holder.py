"""A lock holder demoted to viewer (or removed from the space) cannot keep
their lock alive: the membership change drops their locks in that space (an
editor can work on the file again at once), and refresh checks the
capability to write now, not the one the lock was taken with. Performed over
the API as the holder would."""

from __future__ import annotations

import pytest

from portal.audit.actions import Action
from portal.locks.models import Lock
from portal.spaces.models import Membership
from portal.spaces.services import member_change_role, member_remove
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


def lock_url(node) -> str:
    return f"/api/v1/files/{node.id}/lock"


def take(client, node, **body) -> str:
    answer = client.post(lock_url(node), body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["token"]


def test_a_holder_demoted_to_viewer_cannot_extend_their_lock(signed_in, editor, alice, team, doc):
    client = signed_in(editor)
    token = take(client, doc, timeout=60)
    member_change_role(actor=alice, space_id=team.pk, user_id=editor.pk, role="viewer")

    assert_error(client.patch(lock_url(doc), {"token": token, "timeout": 86400}, format="json"),
                 412, "lock_token_invalid")
    assert not Lock.objects.filter(token=token).exists()
    broken = last_event(Action.LOCK_BROKEN, target_id=str(doc.pk))
    assert broken.actor == alice and broken.details["reason"] == "owner_lost_write_access"


def test_demoting_the_holder_lets_the_editors_lock_and_write_again(signed_in, editor, member_of, alice, team, doc):
    take(signed_in(editor), doc)
    other = member_of("editor", "otto")
    assert_error(signed_in(other).post(lock_url(doc), format="json"), 409, "locked")
    member_change_role(actor=alice, space_id=team.pk, user_id=editor.pk, role="viewer")
    take(signed_in(other), doc)


def test_a_holder_whose_role_changed_outside_the_services_still_cannot_refresh(signed_in, editor, team, doc):
    """Defence in depth: refresh itself checks the role of today, however it changed."""
    client = signed_in(editor)
    token = take(client, doc, timeout=60)
    before = Lock.objects.get(token=token).expires_at
    Membership.objects.filter(space=team, user=editor).update(role="viewer")

    body = assert_error(client.patch(lock_url(doc), {"token": token, "timeout": 86400}, format="json"),
                        403, "lock_refresh_forbidden")
    assert "release it" in body["message"]
    lock = Lock.objects.get(token=token)
    assert lock.expires_at == before and lock.timeout_seconds == 60
    assert client.delete(lock_url(doc), {"token": token}, format="json").status_code == 204   # release still works


def test_a_removed_holder_loses_their_lock_and_cannot_refresh_it(signed_in, editor, alice, team, doc):
    client = signed_in(editor)
    token = take(client, doc, timeout=60)
    member_remove(actor=alice, space_id=team.pk, user_id=editor.pk)
    # They cannot see the file any more: the same "not found" as for any outsider.
    assert_error(client.patch(lock_url(doc), {"token": token, "timeout": 86400}, format="json"), 404, "not_found")
    assert not Lock.objects.filter(token=token).exists()


def test_an_editor_promoted_or_kept_keeps_their_lock(signed_in, editor, alice, team, doc):
    client = signed_in(editor)
    token = take(client, doc, timeout=60)
    member_change_role(actor=alice, space_id=team.pk, user_id=editor.pk, role="manager")
    assert client.patch(lock_url(doc), {"token": token, "timeout": 600}, format="json").status_code == 200
    assert Lock.objects.get(token=token).timeout_seconds == 600
