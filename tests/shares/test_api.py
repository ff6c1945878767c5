"""The share-link API: creating, reading, changing and revoking links, who
may do each, and the input it refuses (with a reason, never dropped)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.shares import tokens
from portal.shares.models import ShareLink
from tests.helpers import assert_error, last_event
from tests.shares.conftest import PASSWORD, PRODUCTION_HASHERS, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(signed_in, alice):
    return signed_in(alice)


@pytest.fixture
def outsider(signed_in, bob):
    """Bob is in no space of alice's."""
    return signed_in(bob)


@pytest.fixture
def manager(signed_in, member_of):
    return signed_in(member_of("manager", "maria"))


# --- creating ------------------------------------------------------------------------------

def test_an_editor_shares_a_file_and_gets_the_link_with_its_token(share, shared_file):
    before = timezone.now()
    link = share(shared_file["id"])
    assert link["id"] and link["node"] == shared_file["id"]
    assert link["url"] == f"{django_settings.PUBLIC_URL}/s/{link['token']}"
    assert link["state"] == "active" and link["enabled"] and link["manager_enabled"]
    assert link["path"] == "/Reports/q3.txt"
    expires = parse_datetime(link["expires_at"])
    assert before + timedelta(days=7) <= expires <= timezone.now() + timedelta(days=7)
    assert last_event(Action.SHARE_CREATED, target_id=str(link["id"])).details["permission"] == "download"


def test_the_token_is_long_and_url_safe_and_never_stored_in_clear(share, shared_file):
    link = share(shared_file["id"])
    token = link["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    selector, secret = token[:16], token[16:]
    assert len(secret) * 6 >= 128  # base64url: 6 bits a character, the selector not counted
    stored = row(link)
    assert stored.selector == selector
    assert stored.verifier == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in stored.sealed_token and token not in stored.sealed_token
    assert tokens.unseal(stored.sealed_token) == token
    assert not any(secret in str(event.details) for event in AuditEvent.objects.all())


def test_a_link_password_is_kept_only_as_an_argon2_hash(settings, share, shared_file):
    settings.PASSWORD_HASHERS = PRODUCTION_HASHERS
    link = share(shared_file["id"], password=PASSWORD)
    stored = row(link)
    assert stored.password_hash.startswith("argon2")
    assert PASSWORD not in stored.password_hash
    assert link["has_password"] is True and "password" not in link
    assert not any(PASSWORD in str(event.details) for event in AuditEvent.objects.all())


def test_a_password_that_breaks_the_policy_is_refused_with_every_reason(owner, shared_file):
    answer = owner.post("/api/v1/shares", {"node": shared_file["id"], "permission": "download",
                                           "password": "1234"}, format="json")
    error = assert_error(answer, 400, "weak_password")
    reasons = " ".join(error["detail"]["reasons"])
    assert "too short" in reasons and "entirely numeric" in reasons
    assert not ShareLink.objects.exists()


PAST = "2001-01-01T00:00:00Z"


@pytest.mark.parametrize(("options", "code"), [
    ({"colour": "red"}, "invalid_input"),
    ({"permission": "upload"}, "invalid_permission"),
    ({"permission": "own"}, "invalid_input"),
    ({"audience": "people", "emails": ["carol@example.com", "not-an-address"]}, "invalid_emails"),
    ({"audience": "people"}, "invalid_emails"),
    ({"audience": "people", "emails": []}, "invalid_emails"),
    ({"emails": ["carol@example.com"]}, "invalid_emails"),
    ({"expires_at": PAST}, "invalid_expires_at"),
    ({"expires_at": "next tuesday"}, "invalid_input"),
    ({"expires_at": None}, "expiry_required"),
    ({"max_downloads": 0}, "invalid_input"),
    ({"watermark": 42}, "invalid_input"),
])
def test_bad_input_is_refused_and_no_link_is_made(owner, shared_file, options, code):
    answer = owner.post("/api/v1/shares", {"node": shared_file["id"], "permission": "download", **options},
                        format="json")
    assert_error(answer, 400, code)
    assert not ShareLink.objects.exists()


def test_an_expiry_beyond_the_policy_maximum_is_refused(owner, shared_file):
    too_far = (timezone.now() + timedelta(days=91)).isoformat()
    answer = owner.post("/api/v1/shares", {"node": shared_file["id"], "permission": "download",
                                           "expires_at": too_far}, format="json")
    assert assert_error(answer, 400, "expiry_too_far")["detail"] == {"max_days": 90}


def test_an_outsider_cannot_share_a_file_of_a_space_they_are_not_in(outsider, shared_file):
    answer = outsider.post("/api/v1/shares", {"node": shared_file["id"], "permission": "download"}, format="json")
    assert_error(answer, 404, "not_found")
    assert not ShareLink.objects.exists()


def test_a_viewer_cannot_share_but_an_editor_can(signed_in, member_of, shared_file):
    viewer = signed_in(member_of("viewer", "vera"))
    refused = viewer.post("/api/v1/shares", {"node": shared_file["id"], "permission": "download"}, format="json")
    assert_error(refused, 403, "forbidden")
    editor = signed_in(member_of("editor", "eddie"))
    made = editor.post("/api/v1/shares", {"node": shared_file["id"], "permission": "preview"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["owner"] == "eddie"


# --- reading -------------------------------------------------------------------------------

def test_the_owner_reads_the_link_back_with_its_token(owner, share, shared_file):
    link = share(shared_file["id"])
    got = owner.get(f"/api/v1/shares/{link['id']}")
    assert got.status_code == 200
    assert got.json()["token"] == link["token"] and got.json()["url"] == link["url"]


def test_a_manager_sees_a_members_link_but_not_its_token(signed_in, member_of, manager, share, shared_file):
    eddie = member_of("editor", "eddie")
    link = share(shared_file["id"], as_user=eddie)
    got = manager.get(f"/api/v1/shares/{link['id']}")
    assert got.status_code == 200
    assert got.json()["owner"] == "eddie"
    assert got.json()["token"] is None and got.json()["url"] is None


def test_outsiders_and_other_editors_get_not_found_for_a_link(signed_in, member_of, outsider, share, shared_file):
    link = share(shared_file["id"])
    editor = signed_in(member_of("editor", "eddie"))
    for client in (outsider, editor):
        assert_error(client.get(f"/api/v1/shares/{link['id']}"), 404, "not_found")
    assert_error(outsider.get("/api/v1/shares/999999"), 404, "not_found")


def test_the_list_holds_my_links_and_those_of_spaces_i_manage(signed_in, member_of, owner, manager, outsider, share,
                                                             shared_file):
    eddie = member_of("editor", "eddie")
    mine = share(shared_file["id"])
    theirs = share(shared_file["id"], as_user=eddie)

    def ids(client, query=""):
        answer = client.get(f"/api/v1/shares{query}")
        assert answer.status_code == 200, answer.content
        return {item["id"] for item in answer.json()["results"]}

    assert ids(manager) == {mine["id"], theirs["id"]}
    assert ids(signed_in(eddie)) == {theirs["id"]}
    assert ids(owner, "?mine=1") == {mine["id"]}
    assert ids(outsider) == set()
    assert_error(outsider.get(f"/api/v1/shares?space={shared_file['space']}"), 404, "not_found")


# --- changing and revoking -------------------------------------------------------------------

def test_the_owner_changes_limits_and_the_change_is_audited(owner, share, shared_file):
    link = share(shared_file["id"])
    changed = owner.patch(f"/api/v1/shares/{link['id']}", {"max_downloads": 3, "watermark": "for Carol"},
                          format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["max_downloads"] == 3 and changed.json()["watermark"] == "for Carol"
    assert last_event(Action.SHARE_CHANGED, target_id=str(link["id"])).details["fields"] == [
        "max_downloads", "watermark"]


@pytest.mark.parametrize(("changes", "code"), [
    ({"colour": "red"}, "invalid_input"),
    ({}, "no_changes"),
    ({"password": "password"}, "weak_password"),
    ({"expires_at": PAST}, "invalid_expires_at"),
    ({"expires_at": None}, "expiry_required"),
    ({"permission": "upload"}, "invalid_permission"),
    ({"emails": ["carol@example.com"]}, "invalid_emails"),
])
def test_bad_changes_are_refused_and_the_link_stays_as_it_was(owner, share, shared_file, changes, code):
    link = share(shared_file["id"])
    before = row(link)
    assert_error(owner.patch(f"/api/v1/shares/{link['id']}", changes, format="json"), 400, code)
    after = row(link)
    assert (after.expires_at, after.password_hash, after.permission) == (
        before.expires_at, before.password_hash, before.permission)


def test_an_outsider_can_neither_change_nor_revoke_a_link(outsider, share, shared_file):
    link = share(shared_file["id"])
    assert_error(outsider.patch(f"/api/v1/shares/{link['id']}", {"enabled": False}, format="json"), 404, "not_found")
    assert_error(outsider.delete(f"/api/v1/shares/{link['id']}"), 404, "not_found")
    assert row(link).owner_enabled and row(link).revoked_at is None


def test_a_manager_cannot_change_a_members_link_but_can_revoke_it(member_of, manager, share, shared_file):
    link = share(shared_file["id"], as_user=member_of("editor", "eddie"))
    assert_error(manager.patch(f"/api/v1/shares/{link['id']}", {"max_downloads": 1}, format="json"), 403,
                 "not_owner")
    assert manager.delete(f"/api/v1/shares/{link['id']}").status_code == 204
    assert row(link).revoked_at is not None


def test_revoking_keeps_the_link_listed_without_its_token(owner, share, shared_file):
    link = share(shared_file["id"])
    assert owner.delete(f"/api/v1/shares/{link['id']}").status_code == 204
    got = owner.get(f"/api/v1/shares/{link['id']}").json()
    assert got["state"] == "revoked" and got["token"] is None and got["url"] is None
    assert owner.delete(f"/api/v1/shares/{link['id']}").status_code == 204  # again: nothing more happens
    assert len(AuditEvent.objects.filter(action=Action.SHARE_REVOKED, target_id=str(link["id"]))) == 1
    assert_error(owner.patch(f"/api/v1/shares/{link['id']}", {"enabled": True}, format="json"), 400,
                 "link_revoked")
