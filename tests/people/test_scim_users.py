"""SCIM Users (RFC 7644 §3.3–3.6), with the RFC's own request examples
adapted to our ids (primary keys) and host, and Okta's and Entra's bodies."""

from __future__ import annotations

import pytest

from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.people.models import ExternalIdentity, GroupSource
from tests.people.scim_support import BASE, USER, assert_error, bjensen, scim  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_rfc_3_3_create_returns_the_new_user_with_its_location(scim):
    body = bjensen(scim)
    user = User.objects.get(username="bjensen")
    assert body["id"] == str(user.pk)
    assert body["schemas"] == [USER]
    assert body["externalId"] == "bjensen"
    assert body["name"]["familyName"] == "Jensen" and body["name"]["givenName"] == "Barbara"
    assert body["active"] is True
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["location"] == f"{BASE}/Users/{user.pk}"
    assert (user.first_name, user.last_name) == ("Barbara", "Jensen")
    assert not user.has_usable_password()  # signs in through single sign-on
    assert ExternalIdentity.objects.get(source=GroupSource.SCIM, subject="bjensen").user == user


def test_create_answers_201_with_a_location_header_in_scim_json(scim):
    response = scim.post("/Users", {"schemas": [USER], "userName": "carol", "emails": [
        {"value": "carol@example.com", "type": "work", "primary": True}], "active": True})
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/scim+json")
    assert response["Location"] == response.body["meta"]["location"]
    assert response.body["emails"] == [{"value": "carol@example.com", "type": "work", "primary": True}]


def test_created_user_events_name_the_token_as_their_actor(scim):
    bjensen(scim)
    event = AuditEvent.objects.get(action=Action.USER_CREATED, target_label="bjensen")
    assert event.actor_id is None and event.actor_label == "scim:okta"


def test_a_password_sent_at_creation_is_kept(scim):
    response = scim.post("/Users", {"schemas": [USER], "userName": "dave", "password": "plum tree on a hill 42"})
    assert response.status_code == 201
    assert User.objects.get(username="dave").check_password("plum tree on a hill 42")
    assert "password" not in response.body


def test_a_user_created_inactive_is_disabled(scim):
    response = scim.post("/Users", {"schemas": [USER], "userName": "erin", "active": False})
    assert response.status_code == 201 and response.body["active"] is False
    assert not User.objects.get(username="erin").is_active


def test_rfc_3_4_1_get_one_user(scim):
    created = bjensen(scim)
    response = scim.get(f"/Users/{created['id']}")
    assert response.status_code == 200
    assert response.body["userName"] == "bjensen" and response.body["id"] == created["id"]


def test_rfc_3_4_2_filter_by_username_is_case_insensitive(scim, alice):
    bjensen(scim)
    response = scim.get("/Users", query={"filter": 'userName Eq "BJensen"'})
    assert response.status_code == 200
    assert response.body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert response.body["totalResults"] == 1
    assert [r["userName"] for r in response.body["Resources"]] == ["bjensen"]


def test_filter_by_external_id_and_by_email(scim, alice):
    bjensen(scim, emails=[{"value": "bjensen@example.com", "type": "work", "primary": True}])
    by_external = scim.get("/Users", query={"filter": 'externalId eq "bjensen"'})
    by_email = scim.get("/Users", query={"filter": 'emails.value eq "bjensen@example.com"'})
    by_email_short = scim.get("/Users", query={"filter": 'emails eq "alice@example.com"'})
    assert [r["userName"] for r in by_external.body["Resources"]] == ["bjensen"]
    assert [r["userName"] for r in by_email.body["Resources"]] == ["bjensen"]
    assert [r["userName"] for r in by_email_short.body["Resources"]] == ["alice"]


def test_filter_with_the_core_schema_uri_and_logical_operators(scim, alice, bob):
    bjensen(scim)
    uri = scim.get("/Users", query={"filter": f'{USER}:userName eq "bjensen"'})
    either = scim.get("/Users", query={"filter": 'userName eq "alice" or name.familyName co "ens"'})
    neither = scim.get("/Users", query={"filter": 'not (userName sw "b") and active eq true'})
    assert [r["userName"] for r in uri.body["Resources"]] == ["bjensen"]
    assert sorted(r["userName"] for r in either.body["Resources"]) == ["alice", "bjensen"]
    assert "bjensen" not in [r["userName"] for r in neither.body["Resources"]]
    assert "alice" in [r["userName"] for r in neither.body["Resources"]]


def test_a_filter_that_matches_nobody_is_an_empty_list(scim):
    response = scim.get("/Users", query={"filter": 'userName eq "nobody"'})
    assert response.status_code == 200
    assert response.body["totalResults"] == 0 and response.body["Resources"] == []


def test_rfc_3_4_2_4_paging_with_start_index_and_count(scim, make_user):
    for n in range(5):
        make_user(username=f"p{n}")
    first = scim.get("/Users", query={"startIndex": "1", "count": "2"})
    third = scim.get("/Users", query={"startIndex": "5", "count": "2"})
    assert first.body["totalResults"] == 6  # and the token's administrator
    assert first.body["itemsPerPage"] == 2 and first.body["startIndex"] == 1
    assert len(third.body["Resources"]) == 2 and third.body["startIndex"] == 5
    seen = {r["id"] for r in first.body["Resources"]} | {r["id"] for r in third.body["Resources"]}
    assert len(seen) == 4
    zero = scim.get("/Users", query={"count": "0"})
    assert zero.body["totalResults"] == 6 and zero.body["Resources"] == []


def test_rfc_3_5_1_put_replaces_the_user(scim):
    created = bjensen(scim)
    body = {
        "schemas": [USER], "id": created["id"], "userName": "bjensen", "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara",
                 "middleName": "Jane"},
        "roles": [], "userType": "Employee",
        "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
    }
    response = scim.put(f"/Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    assert response.body["emails"][0]["value"] == "bjensen@example.com"
    user = User.objects.get(pk=created["id"])
    assert user.email == "bjensen@example.com"
    event = AuditEvent.objects.get(action=Action.SCIM_USER_UPDATED, target_id=created["id"])
    assert event.actor_label == "scim:okta" and "email" in event.details["fields"]


def test_put_renames_the_user(scim):
    created = bjensen(scim)
    response = scim.put(f"/Users/{created['id']}", {"schemas": [USER], "userName": "barbara.jensen"})
    assert response.status_code == 200
    assert User.objects.get(pk=created["id"]).username == "barbara.jensen"


def test_rfc_3_5_2_patch_add_without_path_adds_an_email_and_keeps_the_primary(scim):
    created = bjensen(scim, emails=[{"value": "bjensen@example.com", "type": "work", "primary": True}])
    response = scim.patch(f"/Users/{created['id']}", [
        {"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}])
    assert response.status_code == 200, response.content
    assert User.objects.get(pk=created["id"]).email == "bjensen@example.com"


def test_rfc_3_5_2_3_patch_replace_a_filtered_email_and_the_username(scim):
    created = bjensen(scim, emails=[{"value": "old@example.com", "type": "work", "primary": True}])
    response = scim.patch(f"/Users/{created['id']}", [
        {"op": "replace", "path": 'emails[type eq "work"]',
         "value": {"type": "work", "value": "bjensen@example.com", "primary": True}},
        {"op": "replace", "path": "userName", "value": "babs"}])
    assert response.status_code == 200, response.content
    user = User.objects.get(pk=created["id"])
    assert (user.username, user.email) == ("babs", "bjensen@example.com")


def test_patch_remove_clears_an_attribute(scim):
    created = bjensen(scim, emails=[{"value": "bjensen@example.com", "primary": True}])
    response = scim.patch(f"/Users/{created['id']}", [{"op": "remove", "path": "emails"},
                                                      {"op": "remove", "path": "name.givenName"}])
    assert response.status_code == 200
    user = User.objects.get(pk=created["id"])
    assert (user.email, user.first_name, user.last_name) == ("", "", "Jensen")


def test_okta_deactivates_with_a_pathless_replace(scim):
    created = bjensen(scim)
    response = scim.patch(f"/Users/{created['id']}", [{"op": "replace", "value": {"active": False}}])
    assert response.status_code == 200 and response.body["active"] is False
    assert not User.objects.get(pk=created["id"]).is_active


def test_entra_sends_capitalised_ops_string_booleans_and_filtered_email_paths(scim):
    created = bjensen(scim)
    response = scim.patch(f"/Users/{created['id']}", [
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "barbara@example.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Babs"},
        {"op": "Replace", "path": "displayName", "value": "Babs Jensen"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
         "value": "701984"},
        {"op": "Replace", "path": "externalId", "value": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"},
        {"op": "Replace", "path": "active", "value": "False"}])
    assert response.status_code == 200, response.content
    user = User.objects.get(pk=created["id"])
    assert (user.email, user.first_name, user.display_name) == ("barbara@example.com", "Babs", "Babs Jensen")
    assert not user.is_active
    assert ExternalIdentity.objects.get(user=user, source=GroupSource.SCIM).subject.startswith("0a21f0f2")


def test_entra_pathless_replace_with_dotted_keys(scim):
    created = bjensen(scim)
    response = scim.patch(f"/Users/{created['id']}", [
        {"op": "Replace", "value": {"name.familyName": "Jensen-Smith", "active": "True"}}])
    assert response.status_code == 200
    assert User.objects.get(pk=created["id"]).last_name == "Jensen-Smith"


def test_deactivation_ends_sessions_and_tokens_as_user_disable_does(scim, make_user):
    from django.contrib.sessions.models import Session
    from django.test import Client

    from portal.accounts.models import PersonalAccessToken
    from portal.accounts.services import token_issue
    from tests.factories import PASSWORD

    user = make_user(username="frank")
    browser = Client()
    assert browser.post("/accounts/login/", {"username": "frank", "password": PASSWORD}).status_code == 302
    token, _ = token_issue(actor=None, owner=user, name="laptop")
    response = scim.patch(f"/Users/{user.pk}", [{"op": "replace", "path": "active", "value": False}])
    assert response.status_code == 200
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked_at is not None
    assert not Session.objects.filter(pk=browser.session.session_key).exists()
    disabled = AuditEvent.objects.get(action=Action.USER_DISABLED, target_id=str(user.pk))
    assert disabled.actor_label == "scim:okta" and disabled.details["sessions"] == 1


def test_reactivation_enables_the_account_and_is_audited(scim):
    created = bjensen(scim, active=False)
    response = scim.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "active", "value": True}])
    assert response.status_code == 200 and response.body["active"] is True
    assert User.objects.get(pk=created["id"]).is_active
    event = AuditEvent.objects.get(action=Action.USER_ENABLED, target_id=created["id"])
    assert event.actor_label == "scim:okta"


def test_rfc_3_6_delete_disables_the_account(scim):
    created = bjensen(scim)
    response = scim.delete(f"/Users/{created['id']}")
    assert response.status_code == 204 and response.content == b""
    assert not User.objects.get(pk=created["id"]).is_active
    assert scim.get(f"/Users/{created['id']}").body["active"] is False


def test_an_administrators_account_is_not_the_providers_to_change(scim, admin):
    response = scim.patch(f"/Users/{admin.pk}", [{"op": "replace", "path": "active", "value": False}])
    assert_error(response, 403)
    assert_error(scim.delete(f"/Users/{admin.pk}"), 403)
    admin.refresh_from_db()
    assert admin.is_active


# --- Not found and bad input --------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_a_user_that_does_not_exist_is_a_scim_404(scim, method):
    body = {"schemas": [USER], "userName": "x"} if method == "PUT" else None
    if method == "PATCH":
        response = scim.patch("/Users/999999", [{"op": "replace", "path": "active", "value": False}])
    else:
        response = scim.request(method, "/Users/999999", body)
    assert_error(response, 404)
    assert_error(scim.get("/Users/not-a-number"), 404)


def test_a_taken_username_is_409_uniqueness(scim, alice):
    assert_error(scim.post("/Users", {"schemas": [USER], "userName": "ALICE"}), 409, "uniqueness")
    created = bjensen(scim)
    assert_error(scim.patch(f"/Users/{created['id']}", [{"op": "replace", "path": "userName", "value": "alice"}]),
                 409, "uniqueness")


def test_a_taken_external_id_is_409_uniqueness(scim):
    bjensen(scim)
    response = scim.post("/Users", {"schemas": [USER], "userName": "other", "externalId": "bjensen"})
    assert_error(response, 409, "uniqueness")
    assert not User.objects.filter(username="other").exists()


@pytest.mark.parametrize("raw, scim_type", [
    (b"{not json", "invalidSyntax"),
    (b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"}', "invalidSyntax"),
    (b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}', "invalidValue"),
    (b'{"userName": "x", "emails": [{"value": "not an address"}]}', "invalidValue"),
    (b'{"userName": "x", "active": "maybe"}', "invalidValue"),
    (b'{"userName": "x", "password": "123"}', "invalidValue"),
])
def test_bad_user_bodies_are_400(scim, raw, scim_type):
    assert_error(scim.request("POST", "/Users", raw=raw), 400, scim_type)
    assert not User.objects.filter(username="x").exists()


@pytest.mark.parametrize("expression", [
    'userName eq', 'userName eq "x" and', '(userName eq "x"', 'title pr', 'meta.lastModified gt "2011-05-13"',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"', 'active eq "yes"',
])
def test_bad_or_unsupported_filters_are_400_invalid_filter(scim, expression):
    assert_error(scim.get("/Users", query={"filter": expression}), 400, "invalidFilter")


def test_bad_paging_is_400(scim):
    assert_error(scim.get("/Users", query={"count": "ten"}), 400, "invalidValue")


@pytest.mark.parametrize("operations, scim_type", [
    ([{"op": "move", "path": "userName", "value": "x"}], "invalidSyntax"),
    ([], "invalidSyntax"),
    ([{"op": "remove"}], "noTarget"),
    ([{"op": "replace", "path": "emails[type eq]", "value": "x"}], "invalidFilter"),
    ([{"op": "replace", "path": "name..givenName", "value": "x"}], "invalidPath"),
    ([{"op": "replace", "path": "active", "value": "perhaps"}], "invalidValue"),
    ([{"op": "remove", "path": "userName"}], "invalidValue"),
])
def test_bad_patches_are_400_and_change_nothing(scim, operations, scim_type):
    created = bjensen(scim)
    assert_error(scim.patch(f"/Users/{created['id']}", operations), 400, scim_type)
    assert User.objects.get(pk=created["id"]).username == "bjensen"


def test_a_patch_that_is_not_a_patchop_message_is_400(scim):
    created = bjensen(scim)
    response = scim.request("PATCH", f"/Users/{created['id']}", {"Operations": [{"op": "remove", "path": "x"}]})
    assert_error(response, 400, "invalidSyntax")
