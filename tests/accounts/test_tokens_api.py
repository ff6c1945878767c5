"""Personal access tokens over the API: issue, list, use, revoke."""

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts import tokens
from portal.accounts.models import PersonalAccessToken
from portal.audit.models import AuditEvent
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db
URL = "/api/v1/tokens/"
SPACES = "/api/v1/spaces/"


def detail(token_id):
    return f"{URL}{token_id}/"




def assert_rejected(response, *words):
    """A 401 in the error shape that tells the client to present a Bearer token."""
    body = assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"
    for word in words:
        assert word in body["message"].lower(), body["message"]
    return body


def bearer(raw: str) -> APIClient:
    """A client that presents only the given Authorization header, no session."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=raw)
    return client


@pytest.fixture
def issue(api, alice):
    """``issue(**payload)`` -> (response body, plaintext) of a token alice creates."""

    def make(**payload):
        payload.setdefault("name", "laptop")
        response = api.as_user(alice).post(URL, payload, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        return body, body["token"]

    return make


class TestCreate:
    def test_a_user_creates_a_token_and_sees_the_secret_once(self, api, alice):
        response = api.as_user(alice).post(URL, {"name": "  laptop  "}, format="json", REMOTE_ADDR="198.51.100.7")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["name"] == "laptop"
        assert body["active"] is True and body["revoked_at"] is None and body["last_used_at"] is None
        assert tokens.parse(body["token"]) is not None
        token = PersonalAccessToken.objects.get(pk=body["id"])
        assert token.user == alice

    def test_the_token_lives_the_default_number_of_days_unless_told_otherwise(self, issue):
        default, _ = issue()
        short, _ = issue(name="ci", days=7)
        for body, days in [(default, settings.TOKEN_DEFAULT_DAYS), (short, 7)]:
            token = PersonalAccessToken.objects.get(pk=body["id"])
            assert abs((token.expires_at - token.created_at) - timedelta(days=days)) < timedelta(seconds=5)

    def test_the_maximum_lifetime_is_allowed(self, issue):
        body, _ = issue(days=settings.TOKEN_MAX_DAYS)
        token = PersonalAccessToken.objects.get(pk=body["id"])
        assert token.expires_at - timezone.now() > timedelta(days=settings.TOKEN_MAX_DAYS - 1)

    def test_the_database_keeps_only_the_selector_and_a_sha256_of_the_secret(self, issue):
        body, plaintext = issue()
        selector, secret = tokens.parse(plaintext)
        row = PersonalAccessToken.objects.filter(pk=body["id"]).values().get()
        assert row["selector"] == selector
        assert row["verifier_hash"] == hashlib.sha256(secret.encode()).hexdigest()
        for column, value in row.items():
            assert secret not in str(value), f"the secret is stored in column {column}"
            assert plaintext not in str(value), f"the token is stored in column {column}"

    def test_issuing_is_audited_without_the_secret(self, issue, alice):
        body, plaintext = issue()
        _, secret = tokens.parse(plaintext)
        event = last_event("token.issued", target_type="personalaccesstoken", target_id=str(body["id"]))
        assert event.actor == alice and event.outcome == "success"
        assert event.details["owner"] == "alice"
        for row in AuditEvent.objects.values():
            assert secret not in str(row)

    def test_two_tokens_have_different_secrets_and_selectors(self, issue):
        _, first = issue(name="one")
        _, second = issue(name="two")
        (sel1, sec1), (sel2, sec2) = tokens.parse(first), tokens.parse(second)
        assert sel1 != sel2 and sec1 != sec2

    def test_signing_in_is_required(self, api):
        assert_rejected(api.post(URL, {"name": "laptop"}, format="json"))
        assert not PersonalAccessToken.objects.exists()
        assert not events("token.issued")


BAD_INPUT = [
    pytest.param({"name": ""}, "invalid_input", id="empty name"),
    pytest.param({"name": "   "}, "invalid_input", id="blank name"),
    pytest.param({}, "invalid_input", id="no name"),
    pytest.param({"name": None}, "invalid_input", id="null name"),
    pytest.param({"name": "lap\x00top"}, "invalid_input", id="name with NUL"),
    pytest.param({"name": "lap\ntop"}, "invalid_input", id="name with newline"),
    pytest.param({"name": "lap\x1btop"}, "invalid_input", id="name with escape"),
    pytest.param({"name": "lap\u202etop"}, "invalid_input", id="name with bidi override"),
    pytest.param({"name": "x" * 101}, "invalid_input", id="name over 100 characters"),
    pytest.param({"name": "laptop", "days": 0}, "invalid_input", id="days 0"),
    pytest.param({"name": "laptop", "days": -1}, "invalid_input", id="negative days"),
    pytest.param({"name": "laptop", "days": "abc"}, "invalid_input", id="days not a number"),
    pytest.param({"name": "laptop", "days": 1.5}, "invalid_input", id="fractional days"),
    pytest.param({"name": "laptop", "days": None}, "invalid_input", id="null days"),
    pytest.param({"name": "laptop", "scope": "all"}, "invalid_input", id="unknown field"),
]


class TestCreateRefusesBadInput:
    @pytest.mark.parametrize("payload, code", BAD_INPUT)
    def test_bad_input_is_refused_in_the_error_shape_and_nothing_is_created(self, api, alice, payload, code):
        response = api.as_user(alice).post(URL, payload, format="json")
        assert_error(response, 400, code)
        assert not PersonalAccessToken.objects.exists()
        assert not events("token.issued")

    def test_more_days_than_the_maximum_are_refused_with_the_limit_in_the_message(self, api, alice):
        response = api.as_user(alice).post(URL, {"name": "laptop", "days": settings.TOKEN_MAX_DAYS + 1},
                                           format="json")
        body = assert_error(response, 400, "invalid_input")
        assert str(settings.TOKEN_MAX_DAYS) in body["message"]
        assert not PersonalAccessToken.objects.exists()

    def test_a_name_of_exactly_100_characters_is_accepted(self, issue):
        body, _ = issue(name="x" * 100)
        assert body["name"] == "x" * 100

    def test_an_unknown_field_is_named_in_the_error(self, api, alice):
        body = assert_error(api.as_user(alice).post(URL, {"name": "laptop", "scope": "all"}, format="json"),
                            400, "invalid_input")
        assert "scope" in body["detail"]

    def test_a_malformed_json_body_is_refused(self, api, alice):
        response = api.as_user(alice).post(URL, b'{"name": "laptop",', content_type="application/json")
        assert_error(response, 400, "malformed_request")
        assert not PersonalAccessToken.objects.exists()

    def test_a_json_body_that_is_not_an_object_is_refused(self, api, alice):
        response = api.as_user(alice).post(URL, b'["laptop"]', content_type="application/json")
        assert_error(response, 400, "invalid_input")
        assert not PersonalAccessToken.objects.exists()


class TestList:
    def test_the_list_shows_the_users_tokens_but_never_a_secret(self, api, alice, issue):
        body, plaintext = issue()
        _, secret = tokens.parse(plaintext)
        response = api.as_user(alice).get(URL)
        assert response.status_code == 200
        (listed,) = response.json()["results"]
        assert listed["id"] == body["id"] and listed["name"] == "laptop" and listed["active"] is True
        assert "token" not in listed
        assert secret.encode() not in response.content

    def test_another_user_does_not_see_the_token(self, api, bob, issue):
        issue()
        assert api.as_user(bob).get(URL).json()["results"] == []

    def test_signing_in_is_required(self, api, issue):
        issue()
        assert_rejected(APIClient().get(URL))


class TestBearerAuthentication:
    def test_a_token_authenticates_api_requests_as_its_owner(self, issue):
        body, plaintext = issue()
        response = bearer(f"Bearer {plaintext}").get(SPACES)
        assert response.status_code == 200, response.content
        assert [s["name"] for s in response.json()["results"]] == ["alice"]

    def test_using_a_token_records_when_it_was_last_used(self, issue):
        body, plaintext = issue()
        bearer(f"Bearer {plaintext}").get(SPACES)
        used = PersonalAccessToken.objects.get(pk=body["id"]).last_used_at
        assert used is not None and timezone.now() - used < timedelta(minutes=1)

    def test_last_used_is_refreshed_when_it_is_old(self, issue):
        body, plaintext = issue()
        long_ago = timezone.now() - timedelta(hours=3)
        PersonalAccessToken.objects.filter(pk=body["id"]).update(last_used_at=long_ago)
        bearer(f"Bearer {plaintext}").get(SPACES)
        assert PersonalAccessToken.objects.get(pk=body["id"]).last_used_at > long_ago

    def test_the_scheme_name_is_not_case_sensitive(self, issue):
        _, plaintext = issue()
        assert bearer(f"bearer {plaintext}").get(SPACES).status_code == 200

    def test_an_expired_token_is_refused_with_a_message_about_expiry(self, issue):
        body, plaintext = issue()
        PersonalAccessToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert_rejected(bearer(f"Bearer {plaintext}").get(SPACES), "expired")

    @pytest.mark.parametrize("raw", ["Bearer nonsense", "Bearer coffer_0123_abc", "Bearer coffer_zz",
                                     "Bearer " + "x" * 70])
    def test_a_malformed_token_is_refused(self, raw):
        assert_rejected(bearer(raw).get(SPACES), "malformed")

    def test_the_right_selector_with_a_wrong_secret_is_refused(self, issue):
        body, plaintext = issue()
        selector, secret = tokens.parse(plaintext)
        forged = f"{tokens.PREFIX}_{selector}_{'A' * 43}"
        assert forged != plaintext
        assert_rejected(bearer(f"Bearer {forged}").get(SPACES), "not valid")
        assert PersonalAccessToken.objects.get(pk=body["id"]).last_used_at is None

    def test_a_wrong_secret_and_an_unknown_selector_get_the_same_answer(self, issue):
        _, plaintext = issue()
        selector, _ = tokens.parse(plaintext)
        wrong_secret = bearer(f"Bearer {tokens.PREFIX}_{selector}_{'A' * 43}").get(SPACES).json()
        unknown = bearer(f"Bearer {tokens.PREFIX}_{'0' * 16}_{'A' * 43}").get(SPACES).json()
        assert wrong_secret == unknown

    @pytest.mark.parametrize("raw", ["Bearer", "Bearer ", "Bearer    "])
    def test_bearer_with_nothing_after_it_is_refused(self, raw):
        assert_rejected(bearer(raw).get(SPACES), "no token")

    def test_a_disabled_users_token_is_refused(self, issue, alice):
        _, plaintext = issue()
        alice.is_active = False
        alice.save(update_fields=["is_active"])
        assert_rejected(bearer(f"Bearer {plaintext}").get(SPACES), "disabled")

    def test_no_credentials_at_all_ask_for_a_bearer_token(self):
        assert_rejected(APIClient().get(SPACES))


class TestRevoke:
    def test_the_owner_revokes_a_token_and_it_stops_working(self, api, alice, issue):
        body, plaintext = issue()
        assert bearer(f"Bearer {plaintext}").get(SPACES).status_code == 200
        response = api.as_user(alice).delete(detail(body["id"]))
        assert response.status_code == 204
        token = PersonalAccessToken.objects.get(pk=body["id"])
        assert token.revoked_at is not None and not token.is_active
        event = last_event("token.revoked", target_id=str(body["id"]))
        assert event.actor == alice
        assert_rejected(bearer(f"Bearer {plaintext}").get(SPACES), "revoked")

    def test_the_list_shows_a_revoked_token_as_inactive(self, api, alice, issue):
        body, _ = issue()
        api.as_user(alice).delete(detail(body["id"]))
        (listed,) = api.as_user(alice).get(URL).json()["results"]
        assert listed["active"] is False and listed["revoked_at"] is not None

    def test_revoking_twice_is_harmless_and_audited_once(self, api, alice, issue):
        body, _ = issue()
        client = api.as_user(alice)
        assert client.delete(detail(body["id"])).status_code == 204
        first = PersonalAccessToken.objects.get(pk=body["id"]).revoked_at
        assert client.delete(detail(body["id"])).status_code == 204
        assert PersonalAccessToken.objects.get(pk=body["id"]).revoked_at == first
        assert len(events("token.revoked", target_id=str(body["id"]))) == 1

    def test_a_token_can_revoke_itself(self, issue):
        body, plaintext = issue()
        client = bearer(f"Bearer {plaintext}")
        assert client.delete(detail(body["id"])).status_code == 204
        assert_rejected(client.get(SPACES), "revoked")

    def test_another_user_cannot_revoke_the_token_and_learns_nothing(self, api, bob, issue):
        body, plaintext = issue()
        response = api.as_user(bob).delete(detail(body["id"]))
        foreign = assert_error(response, 404, "not_found")
        missing = assert_error(api.as_user(bob).delete(detail(body["id"] + 1000)), 404, "not_found")
        assert foreign == missing
        assert PersonalAccessToken.objects.get(pk=body["id"]).is_active
        assert not events("token.revoked")
        assert bearer(f"Bearer {plaintext}").get(SPACES).status_code == 200

    def test_a_token_that_does_not_exist_is_not_found(self, api, alice):
        assert_error(api.as_user(alice).delete(detail(999999)), 404, "not_found")

    def test_signing_in_is_required(self, issue):
        body, _ = issue()
        assert_rejected(APIClient().delete(detail(body["id"])))
        assert PersonalAccessToken.objects.get(pk=body["id"]).is_active


class TestTokensCannotMintTokens:
    def test_a_request_authenticated_by_a_token_cannot_create_another_token(self, issue):
        _, plaintext = issue()
        before = PersonalAccessToken.objects.count()
        body = assert_error(bearer(f"Bearer {plaintext}").post(URL, {"name": "more"}, format="json"),
                            403, "token_cannot_mint")
        assert "issue_token" in body["message"]
        assert PersonalAccessToken.objects.count() == before


class TestRefusedTokensAreAudited:
    def test_using_a_revoked_token_leaves_a_denied_event_naming_the_token(self, api, alice, issue):
        body, plaintext = issue()
        api.as_user(alice).delete(detail(body["id"]))
        bearer(f"Bearer {plaintext}").get(SPACES, REMOTE_ADDR="203.0.113.9")
        event = last_event("token.rejected", target_id=str(body["id"]))
        assert (event.outcome, event.actor_label, event.ip) == ("denied", "alice", "203.0.113.9")
        assert "revoked" in event.details["reason"]

    def test_garbage_that_names_no_token_writes_nothing(self):
        bearer("Bearer coffer_0123456789abcdef_" + "x" * 43).get(SPACES)
        bearer("Bearer nonsense").get(SPACES)
        assert not events("token.rejected")
