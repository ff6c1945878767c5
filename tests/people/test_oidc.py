"""Single sign-on against a real OpenID provider (tests/support/oidc_provider):
the code flow with PKCE through Coffer's own views, accounts found, linked or
created, groups mirrored, refusals, re-checks and sign-out at the provider."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.test import Client

from portal.accounts.services import user_disable
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.people.models import ExternalIdentity, Group, GroupMember, GroupSource
from portal.people.oidc import id_token_check
from portal.people.services import group_create, group_member_add
from portal.spaces.models import Space, SpaceKind
from tests.support.oidc_provider.flow import (
    PASSWORD, ProviderBrowser, callback_path, configure_coffer, query, sso_sign_in, unique)

User = get_user_model()


@pytest.fixture
def sso(settings, oidc_provider, db):
    configure_coffer(settings, oidc_provider, base_urls=["http://testserver"])
    return oidc_provider


@pytest.fixture
def person(sso):
    """A user at the provider (not yet in Coffer), in two groups there."""
    name = unique("carol")
    sub = sso.user_set(name, password=PASSWORD, email=f"{name}@example.com", first_name="Carol",
                       groups=["Finance", "Staff"], active=True)["sub"]
    browser = ProviderBrowser(sso, name)
    browser.sign_in()
    return browser, sub


def signed_in_user(client):
    return User.objects.filter(pk=client.session.get("_auth_user_id")).first()


def oidc_groups(user) -> set[str]:
    return set(GroupMember.objects.filter(user=user, group__source=GroupSource.OIDC)
               .values_list("group__name", flat=True))


def test_the_sign_in_page_offers_the_provider_only_when_configured(client, settings, sso):
    assert "Sign in with Test IdP" in client.get("/accounts/login/").content.decode()
    settings.OIDC_ENABLED = False
    assert "Sign in with" not in client.get("/accounts/login/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_first_sign_in_creates_the_account_with_its_space_groups_and_an_audit_event(client, person):
    browser, sub = person
    answer = sso_sign_in(client, browser, next_url="/account/")
    assert answer.status_code == 302 and answer["Location"] == "/account/"
    user = signed_in_user(client)
    assert user.username == browser.username and user.email == f"{browser.username}@example.com"
    assert user.first_name == "Carol" and user.display_name == "Carol" and not user.has_usable_password()
    assert ExternalIdentity.objects.get(source=GroupSource.OIDC, subject=sub).user == user
    assert Space.objects.filter(kind=SpaceKind.PERSONAL, memberships__user=user).exists()
    assert oidc_groups(user) == {"Finance", "Staff"}
    created = AuditEvent.objects.get(action=Action.USER_CREATED, target_id=str(user.pk))
    assert created.actor is None and created.details["via"] == "oidc" and created.details["subject"] == sub
    assert AuditEvent.objects.filter(action=Action.LOGIN, actor=user).exists()
    assert client.get("/").status_code == 200  # a page, not the sign-in form


def test_a_rename_at_the_provider_keeps_the_account_matched_by_subject(client, sso, person):
    browser, sub = person
    sso_sign_in(client, browser)
    user = signed_in_user(client)
    renamed = unique("caroline")
    sso.user_set(browser.username, rename_to=renamed)
    again = Client()
    sso_sign_in(again, _signed_in(sso, renamed))
    assert signed_in_user(again).pk == user.pk
    user.refresh_from_db()
    assert user.username == renamed
    event = AuditEvent.objects.get(action=Action.USER_SSO_UPDATED, target_id=str(user.pk))
    assert event.details["from"] == browser.username and event.details["to"] == renamed


def _signed_in(sso, username: str) -> ProviderBrowser:
    browser = ProviderBrowser(sso, username)
    browser.sign_in()
    return browser


def test_groups_follow_the_provider_and_local_groups_stay(client, sso, person, admin):
    browser, _sub = person
    sso_sign_in(client, browser)
    user = signed_in_user(client)
    local = group_create(actor=admin, name=unique("Local"))
    group_member_add(actor=admin, group=local, user=user)
    sso.user_set(browser.username, groups=["Staff", "Auditors"])
    sso_sign_in(Client(), browser)
    assert oidc_groups(user) == {"Staff", "Auditors"}
    assert GroupMember.objects.filter(user=user, group=local).exists()
    finance = Group.objects.get(source=GroupSource.OIDC, external_id="Finance")
    assert AuditEvent.objects.filter(action=Action.GROUP_MEMBER_REMOVED, target_id=str(user.pk),
                                     details__group_id=finance.pk).exists()
    sso.user_set(browser.username, groups=[])
    sso_sign_in(Client(), browser)
    assert oidc_groups(user) == set()


def test_a_disabled_coffer_account_cannot_sign_in_by_sso(client, sso, person, admin):
    browser, sub = person
    sso_sign_in(client, browser)
    user = signed_in_user(client)
    user_disable(actor=admin, user_id=user.pk)
    again = Client()
    answer = sso_sign_in(again, browser)
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/?sso=failed"
    assert "_auth_user_id" not in again.session
    refused = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, details__via="oidc").latest("id")
    assert refused.details["reason"] == "disabled" and refused.details["subject"] == sub
    page = again.get(answer["Location"]).content.decode()
    assert "Single sign-on did not sign you in" in page


def test_an_existing_local_account_is_linked_by_its_username(client, sso, make_user):
    name = unique("dave")
    local = make_user(username=name)
    sub = sso.user_set(name, password=PASSWORD, email=f"{name}@example.com", groups=[])["sub"]
    sso_sign_in(client, _signed_in(sso, name))
    assert signed_in_user(client).pk == local.pk
    assert ExternalIdentity.objects.get(source=GroupSource.OIDC, subject=sub).user == local
    assert AuditEvent.objects.get(action=Action.USER_SSO_LINKED, target_id=str(local.pk)).details["subject"] == sub
    assert local.has_usable_password() is True  # the local password keeps working beside SSO


def test_an_administrators_local_account_is_never_taken_over_by_name(client, sso, make_user):
    name = unique("root")
    make_user(username=name, is_superuser=True, is_staff=True)
    sso.user_set(name, password=PASSWORD, groups=[])
    answer = sso_sign_in(client, _signed_in(sso, name))
    assert answer["Location"] == "/accounts/login/?sso=failed" and "_auth_user_id" not in client.session
    assert not ExternalIdentity.objects.filter(user__username=name).exists()
    refused = AuditEvent.objects.filter(action=Action.LOGIN_FAILED, details__via="oidc").latest("id")
    assert refused.details["reason"] == "administrator_not_linked_by_name"


def test_without_account_creation_an_unknown_person_is_refused(client, settings, sso):
    settings.OIDC_CREATE_USER = False
    name = unique("erin")
    sso.user_set(name, password=PASSWORD, groups=[])
    answer = sso_sign_in(client, _signed_in(sso, name))
    assert answer["Location"] == "/accounts/login/?sso=failed"
    assert not User.objects.filter(username=name).exists()


def test_a_callback_with_a_state_coffer_did_not_issue_is_refused(client, sso, person):
    browser, _ = person
    client.get("/oidc/authenticate/")  # the session holds a state, not this one
    assert client.get("/oidc/callback/?code=forged&state=forged").status_code == 400
    assert client.get("/oidc/callback/").status_code == 302  # nothing to go on: back to sign-in
    assert "_auth_user_id" not in client.session


def test_the_authorization_request_uses_pkce_and_a_nonce(client, sso):
    start = client.get("/oidc/authenticate/")
    params = query(start["Location"])
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert params["nonce"] and params["state"] and params["redirect_uri"] == "http://testserver/oidc/callback/"


def test_a_next_address_off_the_site_is_dropped(client, sso):
    client.get("/oidc/authenticate/?next=https://evil.example/")
    assert client.session["oidc_login_next"] is None
    client.get("/oidc/authenticate/?next=/spaces/")
    assert client.session["oidc_login_next"] == "/spaces/"


@pytest.mark.parametrize("payload", [
    {"aud": "someone-else", "iss": "ISSUER", "sub": "1"},
    {"aud": ["coffer-test", "someone-else"], "azp": "someone-else", "iss": "ISSUER", "sub": "1"},
    {"aud": "coffer-test", "iss": "https://evil.example/o", "sub": "1"},
    {"aud": "coffer-test", "iss": "ISSUER", "sub": ""},
], ids=["other-audience", "other-authorized-party", "other-issuer", "no-subject"])
def test_id_tokens_for_another_client_or_from_another_issuer_are_refused(sso, payload):
    payload = {k: (sso.issuer if v == "ISSUER" else v) for k, v in payload.items()}
    with pytest.raises(SuspiciousOperation):
        id_token_check(payload)


def test_sso_sessions_are_not_asked_for_coffers_second_factor(client, settings, person):
    settings.REQUIRE_2FA = "all"
    browser, _ = person
    sso_sign_in(client, browser)
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/spaces/").status_code == 200


def test_local_accounts_keep_signing_in_with_a_password(client, sso, alice, settings):
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 0
    from tests.factories import PASSWORD as LOCAL_PASSWORD

    answer = client.post("/accounts/login/", {"username": "alice", "password": LOCAL_PASSWORD})
    assert answer.status_code == 302
    assert client.get("/").status_code == 200  # never sent to the provider for a re-check


def test_the_session_is_rechecked_at_the_provider_and_ends_when_the_user_is_disabled_there(client, settings, sso,
                                                                                           person):
    browser, _ = person
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = 0  # every page load asks again
    sso_sign_in(client, browser)
    page = client.get("/account/")
    assert page.status_code == 302 and page["Location"].startswith(sso.endpoint("authorization"))
    assert query(page["Location"])["prompt"] == "none"
    htmx = client.get("/account/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and htmx["HX-Refresh"] == "true"
    assert client.get("/api/v1/spaces/").status_code == 200  # background requests wait for the next page load
    back = client.get(callback_path(browser.follow(page["Location"])))
    assert back.status_code == 302 and back["Location"] == "/account/"
    assert "_auth_user_id" in client.session  # still signed in: the provider said yes

    sso.user_set(browser.username, active=False)
    page = client.get("/account/")
    back = browser.follow(page["Location"])
    assert query(back)["error"] == "login_required"
    answer = client.get(callback_path(back))
    assert answer["Location"] == "/accounts/login/?sso=failed"
    assert "_auth_user_id" not in client.session
    assert client.get("/account/").status_code == 302  # to the sign-in page now


def test_sign_out_continues_at_the_provider(client, sso, person):
    browser, _ = person
    sso_sign_in(client, browser)
    assert browser.whoami() == browser.username
    answer = client.post("/accounts/logout/")
    assert answer.status_code == 302 and answer["Location"].startswith(sso.endpoint("end_session"))
    params = query(answer["Location"])
    assert params["id_token_hint"] and params["post_logout_redirect_uri"] == "http://testserver/accounts/login/"
    assert "_auth_user_id" not in client.session
    assert browser.follow(answer["Location"]) == "http://testserver/accounts/login/"
    assert browser.whoami() is None


def test_sign_out_of_a_local_account_stays_in_coffer(client, sso, alice):
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    answer = client.post("/accounts/logout/")
    assert answer.status_code == 302 and answer["Location"] == "/accounts/login/"


@pytest.mark.django_db(transaction=True)  # WebDAV closes its connections after each request
def test_an_sso_user_issues_a_token_and_uses_webdav_with_it(client, person):
    import base64

    from django.core.wsgi import get_wsgi_application

    from portal.accounts.services import token_issue
    from portal.dav.app import DavDispatcher
    from tests.dav.test_mount import call

    browser, _ = person
    sso_sign_in(client, browser)
    user = signed_in_user(client)
    _token, secret = token_issue(actor=user, owner=user, name="laptop")
    auth = "Basic " + base64.b64encode(f"{user.username}:{secret}".encode()).decode()
    status, _headers, _body = call(DavDispatcher(get_wsgi_application()), "/dav/", "PROPFIND",
                                   HTTP_AUTHORIZATION=auth, HTTP_DEPTH="1")
    assert status.startswith("207"), _body[:2000]


def test_refused_sso_sign_ins_do_not_lock_the_address_out_of_sso(client, settings, sso, person, admin):
    """django-axes buckets failures by (username, address); the callback has no
    username, so without care a few refusals at an office's NAT would block SSO for all of it."""
    settings.AXES_FAILURE_LIMIT = 2
    browser, _ = person
    sso_sign_in(client, browser)
    user_disable(actor=admin, user_id=signed_in_user(client).pk)
    for _ in range(3):
        assert sso_sign_in(Client(), browser)["Location"] == "/accounts/login/?sso=failed"
    colleague = unique("gina")
    sso.user_set(colleague, password=PASSWORD, groups=[])
    fresh = Client()
    answer = sso_sign_in(fresh, _signed_in(sso, colleague))
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert signed_in_user(fresh).username == colleague
