"""The accounts management commands: issue_token and ensure_admin."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from portal.accounts import tokens
from portal.accounts.models import PersonalAccessToken, User
from tests.helpers import events, last_event

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


class TestIssueToken:
    def test_it_prints_one_line_that_works_against_the_api_for_three_days(self, alice):
        output = run("issue_token", "alice", "--name", "x", "--days", "3")
        lines = output.splitlines()
        assert len(lines) == 1, output
        (plaintext,) = lines
        assert tokens.parse(plaintext) is not None

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        response = client.get("/api/v1/spaces/")
        assert response.status_code == 200, response.content
        assert [s["name"] for s in response.json()["results"]] == ["alice"]

        token = PersonalAccessToken.objects.get(user=alice)
        assert token.name == "x"
        assert abs((token.expires_at - token.created_at) - timedelta(days=3)) < timedelta(seconds=5)

    def test_the_system_is_recorded_as_the_issuer(self, alice):
        run("issue_token", "alice", "--name", "x", "--days", "3")
        event = last_event("token.issued")
        assert event.actor is None and event.details["owner"] == "alice"

    def test_an_unknown_user_is_refused(self, alice):
        with pytest.raises(CommandError, match="nobody"):
            run("issue_token", "nobody")
        assert not PersonalAccessToken.objects.exists()

    def test_a_disabled_user_gets_no_token(self, make_user):
        make_user(username="gone", is_active=False)
        with pytest.raises(CommandError, match="gone"):
            run("issue_token", "gone")
        assert not PersonalAccessToken.objects.exists()

    def test_zero_days_is_refused_with_a_clear_message_and_nothing_is_created(self, alice):
        with pytest.raises(CommandError) as refused:
            run("issue_token", "alice", "--days", "0")
        assert "days" in str(refused.value) and "at least 1" in str(refused.value)
        assert not PersonalAccessToken.objects.exists()
        assert not events("token.issued")

    def test_days_that_are_not_a_number_are_refused(self, alice):
        with pytest.raises(CommandError, match="days"):
            run("issue_token", "alice", "--days", "abc")
        assert not PersonalAccessToken.objects.exists()

    def test_a_name_with_control_characters_is_refused(self, alice):
        with pytest.raises(CommandError, match="control characters"):
            run("issue_token", "alice", "--name", "bad\x1bname")
        assert not PersonalAccessToken.objects.exists()


def printed_password(output: str) -> str:
    match = re.search(r"password: (\S+)", output)
    assert match, output
    return match.group(1)


class TestEnsureAdmin:
    def test_it_creates_one_superuser_and_prints_its_password_once(self):
        output = run("ensure_admin")
        admin = User.objects.get(username="admin")
        assert admin.is_superuser and admin.is_staff and admin.is_active
        password = printed_password(output)
        assert output.count(password) == 1
        assert admin.check_password(password)
        assert last_event("user.created", target_id=str(admin.pk)).details == {"superuser": True}

    def test_the_printed_password_signs_in_to_the_admin_site(self):
        password = printed_password(run("ensure_admin"))
        browser = Client()
        response = browser.post("/admin/login/", {"username": "admin", "password": password, "next": "/admin/"},
                                REMOTE_ADDR="192.0.2.10")
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert browser.get("/admin/").status_code == 200

    def test_a_second_run_creates_nothing_and_prints_no_password(self):
        first = printed_password(run("ensure_admin"))
        second = run("ensure_admin")
        assert "password" not in second.lower() and first not in second
        assert "already exists" in second
        assert User.objects.filter(is_superuser=True).count() == 1
        assert len(events("user.created")) == 1

    def test_an_existing_administrator_of_any_name_counts(self, make_user):
        make_user(username="root", is_superuser=True, is_staff=True)
        output = run("ensure_admin")
        assert "password" not in output.lower()
        assert not User.objects.filter(username="admin").exists()

    def test_the_username_can_be_chosen(self):
        password = printed_password(run("ensure_admin", "--username", "chief"))
        chief = User.objects.get(username="chief")
        assert chief.is_superuser and chief.check_password(password)

    def test_a_regular_user_already_named_admin_gets_a_clear_error_not_a_traceback(self, make_user):
        make_user(username="admin")
        with pytest.raises(CommandError, match="--username"):
            run("ensure_admin")
        assert not User.objects.filter(is_superuser=True).exists()
