"""Signing in through the login form and the admin site: audit and throttling."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client

from tests.helpers import events, last_event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
LOGOUT = "/accounts/logout/"
ATTACKER = "203.0.113.66"
ELSEWHERE = "198.51.100.20"


def sign_in(browser: Client, username: str, password: str, ip: str, **extra):
    return browser.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip, **extra)


def signed_in_as(browser: Client):
    return browser.session.get("_auth_user_id")


def fail_until_locked(username: str, ip: str):
    """Fail the limit's worth of times; return the responses."""
    browser = Client()
    return [sign_in(browser, username, "wrong password", ip) for _ in range(settings.AXES_FAILURE_LIMIT)]


class TestLogin:
    def test_a_user_signs_in_and_the_login_is_audited_with_the_address(self, alice):
        browser = Client()
        response = sign_in(browser, "alice", PASSWORD, "192.0.2.15", HTTP_USER_AGENT="Firefox/1")
        assert response.status_code == 302 and response["Location"] == settings.LOGIN_REDIRECT_URL
        assert signed_in_as(browser) == str(alice.pk)
        event = last_event("auth.login")
        assert event.actor == alice and event.actor_label == "alice"
        assert event.ip == "192.0.2.15" and event.user_agent == "Firefox/1"
        assert event.outcome == "success"

    def test_a_wrong_password_is_refused_and_audited_under_the_attempted_name(self, alice):
        browser = Client()
        response = sign_in(browser, "alice", "not the password", "192.0.2.16")
        assert response.status_code == 200
        assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
        assert signed_in_as(browser) is None
        event = last_event("auth.login_failed")
        assert event.actor is None and event.actor_label == "alice"
        assert event.outcome == "failure" and event.ip == "192.0.2.16"
        assert "not the password" not in str(event.details)
        assert not events("auth.login")

    def test_an_unknown_username_is_audited_too(self, db):
        sign_in(Client(), "mallory", "whatever it is", "192.0.2.17")
        event = last_event("auth.login_failed")
        assert event.actor is None and event.actor_label == "mallory" and event.outcome == "failure"

    def test_an_empty_form_is_refused_without_signing_in(self, alice):
        browser = Client()
        response = browser.post(LOGIN, {}, REMOTE_ADDR="192.0.2.19")
        assert response.status_code == 200
        assert signed_in_as(browser) is None
        assert not events("auth.login")

    def test_a_disabled_user_cannot_sign_in(self, alice):
        alice.is_active = False
        alice.save(update_fields=["is_active"])
        browser = Client()
        assert sign_in(browser, "alice", PASSWORD, "192.0.2.20").status_code == 200
        assert signed_in_as(browser) is None
        assert not events("auth.login")


class TestThrottling:
    def test_the_limit_of_failures_from_one_address_locks_that_username_there(self, alice):
        responses = fail_until_locked("alice", ATTACKER)
        assert [r.status_code for r in responses[:-1]] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
        locked = responses[-1]
        assert locked.status_code == 429
        assert b"Too many failed sign-ins" in locked.content
        event = last_event("auth.login_throttled")
        assert event.actor_label == "alice" and event.outcome == "denied" and event.ip == ATTACKER
        assert len(events("auth.login_failed", actor_label="alice")) == settings.AXES_FAILURE_LIMIT

    def test_even_the_right_password_is_refused_from_the_locked_address(self, alice):
        fail_until_locked("alice", ATTACKER)
        browser = Client()
        response = sign_in(browser, "alice", PASSWORD, ATTACKER)
        assert response.status_code == 429
        assert signed_in_as(browser) is None
        assert not events("auth.login")
        assert last_event("auth.login_failed").outcome == "denied"

    def test_the_same_user_still_signs_in_from_another_address(self, alice):
        fail_until_locked("alice", ATTACKER)
        browser = Client()
        response = sign_in(browser, "alice", PASSWORD, ELSEWHERE)
        assert response.status_code == 302
        assert signed_in_as(browser) == str(alice.pk)
        assert last_event("auth.login").ip == ELSEWHERE

    def test_other_users_are_not_locked_out_from_the_attackers_address(self, alice, bob):
        fail_until_locked("alice", ATTACKER)
        browser = Client()
        assert sign_in(browser, "bob", PASSWORD, ATTACKER).status_code == 302
        assert signed_in_as(browser) == str(bob.pk)

    def test_a_forged_forwarded_for_header_does_not_escape_the_lockout(self, alice):
        fail_until_locked("alice", ATTACKER)
        browser = Client()
        response = sign_in(browser, "alice", PASSWORD, ATTACKER, HTTP_X_FORWARDED_FOR=ELSEWHERE)
        assert response.status_code == 429
        assert signed_in_as(browser) is None

    def test_a_different_browser_string_does_not_escape_the_lockout(self, alice):
        fail_until_locked("alice", ATTACKER)
        browser = Client()
        response = sign_in(browser, "alice", PASSWORD, ATTACKER, HTTP_USER_AGENT="curl/8.0")
        assert response.status_code == 429
        assert signed_in_as(browser) is None

    def test_failures_are_counted_in_the_database(self, alice):
        fail_until_locked("alice", ATTACKER)
        attempt = AccessAttempt.objects.get(username="alice", ip_address=ATTACKER)
        assert attempt.failures_since_start == settings.AXES_FAILURE_LIMIT

    def test_a_successful_sign_in_resets_the_count(self, alice):
        browser = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            sign_in(browser, "alice", "wrong password", ATTACKER)
        assert sign_in(browser, "alice", PASSWORD, ATTACKER).status_code == 302
        again = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert sign_in(again, "alice", "wrong password", ATTACKER).status_code == 200
        assert not events("auth.login_throttled")

    def test_a_client_asking_for_json_gets_the_lockout_in_the_error_shape(self, alice):
        fail_until_locked("alice", ATTACKER)
        response = sign_in(Client(), "alice", PASSWORD, ATTACKER, HTTP_ACCEPT="application/json")
        assert response.status_code == 429
        body = response.json()
        assert set(body) == {"code", "message", "detail"} and body["code"] == "throttled"
        minutes = round(settings.AXES_COOLOFF_TIME * 60)
        assert body["detail"] == {"retry_after_minutes": minutes}
        assert response["Retry-After"] == str(minutes * 60)


class TestLogout:
    def test_signing_out_is_audited(self, alice):
        browser = Client()
        sign_in(browser, "alice", PASSWORD, "192.0.2.30")
        response = browser.post(LOGOUT, REMOTE_ADDR="192.0.2.30")
        assert response.status_code == 302 and response["Location"] == settings.LOGOUT_REDIRECT_URL
        assert signed_in_as(browser) is None
        event = last_event("auth.logout")
        assert event.actor == alice and event.ip == "192.0.2.30"

    def test_signing_out_without_being_signed_in_records_nothing(self, db):
        assert Client().post(LOGOUT).status_code == 302
        assert not events("auth.logout")

    def test_a_get_request_does_not_sign_out(self, alice):
        browser = Client()
        sign_in(browser, "alice", PASSWORD, "192.0.2.31")
        assert browser.get(LOGOUT).status_code == 405
        assert signed_in_as(browser) == str(alice.pk)
        assert not events("auth.logout")


class TestAdminLogin:
    def test_a_superuser_signs_in_to_the_admin_site(self, make_user):
        root = make_user(username="root", is_superuser=True, is_staff=True)
        browser = Client()
        response = browser.post("/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"},
                                REMOTE_ADDR="192.0.2.40")
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert browser.get("/admin/").status_code == 200
        assert last_event("auth.login").actor == root

    def test_a_regular_user_is_not_let_into_the_admin_site(self, alice):
        browser = Client()
        response = browser.post("/admin/login/", {"username": "alice", "password": PASSWORD, "next": "/admin/"},
                                REMOTE_ADDR="192.0.2.41")
        assert response.status_code == 200
        assert signed_in_as(browser) is None
        admin_page = browser.get("/admin/")
        assert admin_page.status_code == 302 and "/admin/login/" in admin_page["Location"]

    def test_admin_sign_in_failures_count_towards_the_same_lockout(self, make_user):
        make_user(username="root", is_superuser=True, is_staff=True)
        browser = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            last = browser.post("/admin/login/", {"username": "root", "password": "guess", "next": "/admin/"},
                                REMOTE_ADDR=ATTACKER)
        assert last.status_code == 429
        assert sign_in(Client(), "root", PASSWORD, ATTACKER).status_code == 429
