"""Access tokens: bound to a user and a file, short-lived, and only as good as the user's role today."""

from __future__ import annotations

import pytest
from django.utils import timezone

from portal.collab.wopi.models import WopiToken
from portal.collab.wopi.tokens import digest_of
from portal.spaces.services import member_change_role, member_remove
from tests.collab.wopi.conftest import join, put

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def doc(alice, team):
    return put(alice, team, "report.docx", b"PK-original").node


def test_tokens_are_random_and_stored_only_hashed(client_for, alice, doc):
    office = client_for(alice, doc)
    assert len(office.token) >= 43  # 32 random bytes
    row = WopiToken.objects.get(node=doc)
    assert row.digest == digest_of(office.token) and office.token not in row.digest
    assert client_for(alice, doc).token != office.token


def test_an_unknown_token_is_401(client_for, alice, doc):
    assert client_for(alice, doc, token="not-a-token").check_file_info().status_code == 401


def test_an_expired_token_is_401(client_for, alice, doc):
    office = client_for(alice, doc)
    WopiToken.objects.filter(node=doc).update(expires_at=timezone.now())
    assert office.check_file_info().status_code == 401
    assert office.get_file().status_code == 401


def test_another_files_token_is_401(client_for, alice, team, doc):
    other = put(alice, team, "other.docx", b"PK-other").node
    token = client_for(alice, other).token
    assert client_for(alice, doc, token=token).check_file_info().status_code == 401
    assert client_for(alice, doc, token=token).put_file(b"x", None).status_code == 401


def test_another_users_token_for_their_own_file_opens_nothing_of_ours(client_for, alice, bob, doc):
    """bob's token is for bob's file in bob's space; presented for alice's file it is refused."""
    from portal.spaces.services import space_create

    bobs = space_create(actor=bob, name="Bob's")
    token = client_for(bob, put(bob, bobs, "mine.docx", b"PK-bob").node).token
    response = client_for(bob, doc, token=token).get_file()
    assert response.status_code == 401
    assert b"PK-original" not in response.content


def test_a_viewers_put_file_lock_and_rename_are_refused(client_for, alice, bob, team, doc):
    join(team, alice, bob, "viewer")
    office = client_for(bob, doc)
    assert office.get_file().status_code == 200
    assert office.put_file(b"PK-viewer", None).status_code == 401
    assert office.lock("V1").status_code == 401
    assert office.rename("mine").status_code == 401
    doc.refresh_from_db()
    assert (doc.current_version.number, doc.name) == (1, "report.docx")


def test_an_editor_made_viewer_loses_saving_at_once(client_for, alice, bob, team, doc):
    join(team, alice, bob, "editor")
    office = client_for(bob, doc)
    assert office.lock("B1").status_code == 200
    member_change_role(actor=alice, space_id=team.pk, user_id=bob.pk, role="viewer")
    assert office.put_file(b"PK-bob", "B1").status_code == 401
    assert office.check_file_info().json()["UserCanWrite"] is False


def test_a_removed_member_token_stops_working_at_once(client_for, alice, bob, team, doc):
    join(team, alice, bob, "editor")
    office = client_for(bob, doc)
    assert office.check_file_info().status_code == 200
    member_remove(actor=alice, space_id=team.pk, user_id=bob.pk)
    assert office.check_file_info().status_code == 404
    assert office.get_file().status_code == 404


def test_a_file_in_the_trash_is_404(client_for, alice, doc):
    from portal.files.services.tree import node_trash

    office = client_for(alice, doc)
    node_trash(actor=alice, node_id=doc.pk)
    assert office.check_file_info().status_code == 404


def test_a_file_id_that_is_not_a_number_is_404(client_for, alice, doc, live_dav):
    import requests
    office = client_for(alice, doc)
    assert requests.get(f"{live_dav.url}/wopi/files/abc?access_token={office.token}", timeout=30).status_code == 404


def test_a_disabled_account_token_is_401(client_for, alice, doc):
    office = client_for(alice, doc)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert office.check_file_info().status_code == 401


def test_the_token_may_come_as_a_bearer_header(client_for, alice, doc, live_dav):
    office = client_for(alice, doc)
    url = f"{live_dav.url}/wopi/files/{doc.pk}"
    response = office.session.get(url, headers={**office._sign(url), "Authorization": f"Bearer {office.token}"},
                                  timeout=30)
    assert response.status_code == 200, response.text
