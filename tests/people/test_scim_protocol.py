"""SCIM's frame: bearer tokens (created, revoked, refused), discovery
documents, routes that don't exist, and the management command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.core.errors import Forbidden
from portal.people.scim.models import ScimToken
from portal.people.scim.services import TOKEN_FORMAT, scim_token_create, scim_token_revoke
from tests.people.scim_support import USER, Scim, assert_error, scim  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_kept_only_as_a_hash(admin):
    token, plaintext = scim_token_create(actor=admin, name="entra")
    selector, secret = TOKEN_FORMAT.parse(plaintext)
    assert token.selector == selector and secret not in token.verifier_hash and plaintext.startswith("scim_")
    assert len(secret) >= 22  # at least 128 random bits (32 bytes here)
    assert token.created_by == admin
    assert AuditEvent.objects.get(action=Action.SCIM_TOKEN_CREATED, target_id=str(token.pk)).actor == admin


def test_only_administrators_create_or_revoke_tokens(alice, admin):
    with pytest.raises(Forbidden):
        scim_token_create(actor=alice, name="mine")
    token, _ = scim_token_create(actor=admin, name="okta")
    with pytest.raises(Forbidden):
        scim_token_revoke(actor=alice, token=token)
    assert ScimToken.objects.get(pk=token.pk).revoked_at is None


def test_requests_without_a_valid_token_are_401(scim, admin):
    good = scim.get("/Users")
    assert good.status_code == 200
    other = Scim(TOKEN_FORMAT.generate()[0])
    for response in (scim.get("/Users", token=None), other.get("/Users"), scim.get("/Users", token="scim_nope"),
                     scim.post("/Users", {"schemas": [USER], "userName": "x"}, token=None),
                     scim.delete(f"/Users/{admin.pk}", token=None)):
        assert_error(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_administrator_without_a_token_is_still_401(admin):
    browser = Client()
    browser.force_login(admin)
    response = browser.get("/scim/v2/Users")
    assert response.status_code == 401


def test_basic_authentication_is_not_accepted(scim):
    assert_error(scim.get("/Users", token=None, HTTP_AUTHORIZATION=f"Basic {scim.token}"), 401)


def test_a_wrong_secret_for_a_real_token_is_refused_and_audited(scim):
    selector, _ = TOKEN_FORMAT.parse(scim.token)
    forged = f"scim_{selector}_{'A' * 43}"
    assert_error(scim.get("/Users", token=forged), 401)
    token = ScimToken.objects.get(selector=selector)
    assert AuditEvent.objects.get(action=Action.TOKEN_REJECTED, target_id=str(token.pk)).details == {
        "reason": "wrong secret"}


def test_a_revoked_token_stops_working_at_once(scim, admin):
    token = ScimToken.objects.get(name="okta")
    scim_token_revoke(actor=admin, token=token)
    scim_token_revoke(actor=admin, token=token)  # twice is harmless
    assert_error(scim.get("/Users"), 401)
    assert AuditEvent.objects.filter(action=Action.SCIM_TOKEN_REVOKED).count() == 1


def test_use_is_remembered(scim):
    scim.get("/ServiceProviderConfig")
    assert ScimToken.objects.get(name="okta").last_used_at is not None


def test_service_provider_config_says_what_is_supported(scim):
    response = scim.get("/ServiceProviderConfig")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/scim+json")
    body = response.body
    assert body["patch"]["supported"] is True and body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 200}
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_schemas(scim):
    types = scim.get("/ResourceTypes").body
    assert {r["id"] for r in types["Resources"]} == {"User", "Group"}
    assert scim.get("/ResourceTypes/User").body["endpoint"] == "/Users"
    schemas = scim.get("/Schemas").body
    assert {s["id"] for s in schemas["Resources"]} == {USER, "urn:ietf:params:scim:schemas:core:2.0:Group"}
    user_schema = scim.get(f"/Schemas/{USER}").body
    assert "userName" in {a["name"] for a in user_schema["attributes"]}
    assert_error(scim.get("/Schemas/urn:nothing"), 404)
    assert_error(scim.get("/ResourceTypes/Printer"), 404)


def test_unknown_routes_and_methods_answer_in_scim_errors(scim):
    assert_error(scim.get("/Printers"), 404)
    assert_error(scim.request("DELETE", "/Users"), 405)
    assert_error(scim.request("POST", "/ServiceProviderConfig", {}), 405)


def test_the_command_prints_a_working_token_and_revokes_it(db, admin):
    out = io.StringIO()
    call_command("scim_token", "Entra ID", stdout=out)
    plaintext = out.getvalue().strip()
    client = Scim(plaintext)
    assert client.get("/Users").status_code == 200
    assert AuditEvent.objects.get(action=Action.SCIM_TOKEN_CREATED).actor_id is None
    call_command("scim_token", "Entra ID", "--revoke", stderr=io.StringIO())
    assert_error(client.get("/Users"), 401)
