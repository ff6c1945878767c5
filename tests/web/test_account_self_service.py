"""The browser's self-service pages: forgot password, set-password links,
invitations, the profile and the language it chooses."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from portal.accounts.models import User
from portal.accounts.services_invitations import invitation_create, invitation_revoke
from tests.factories import PASSWORD
from tests.helpers import events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()  # forgot-password counts live in the cache


@pytest.fixture
def eager_celery():
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def ask_for_link(client, email, callbacks):
    with callbacks(execute=True):
        return client.post("/accounts/password/reset/", {"email": email}, REMOTE_ADDR="192.0.2.9")


def link_path(body: str) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", body).group(1)


class TestForgotPassword:
    def test_the_sign_in_page_offers_it(self, client):
        assert b'href="/accounts/password/reset/"' in client.get("/accounts/login/").content

    def test_known_and_unknown_addresses_get_the_same_answer(self, client, alice, eager_celery,
                                                             django_capture_on_commit_callbacks):
        known = ask_for_link(client, "alice@example.com", django_capture_on_commit_callbacks)
        unknown = ask_for_link(client, "nobody@example.com", django_capture_on_commit_callbacks)
        assert known.status_code == unknown.status_code == 302
        assert known["Location"] == unknown["Location"] == "/accounts/password/reset/sent/"
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
        page = client.get("/accounts/password/reset/sent/")
        assert page.status_code == 200 and b"If an account uses that address" in page.content

    def test_over_the_limit_the_answer_is_the_same_and_no_mail_goes(self, client, alice, settings, eager_celery,
                                                                   django_capture_on_commit_callbacks):
        answers = {ask_for_link(client, "alice@example.com", django_capture_on_commit_callbacks)["Location"]
                   for _ in range(settings.PASSWORD_RESETS_PER_HOUR + 2)}
        assert answers == {"/accounts/password/reset/sent/"}
        assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_HOUR

    def test_a_bad_address_is_shown_again_with_an_error(self, client, alice):
        page = client.post("/accounts/password/reset/", {"email": "not an address"})
        assert page.status_code == 400 and b"Enter a valid e-mail address" in page.content
        assert mail.outbox == []

    def test_the_link_sets_the_password_once_and_the_old_one_stops(self, client, alice, eager_celery,
                                                                  django_capture_on_commit_callbacks):
        ask_for_link(client, "alice@example.com", django_capture_on_commit_callbacks)
        path = link_path(mail.outbox[0].body)
        form = client.get(path, follow=True)
        assert form.status_code == 200 and form.context["validlink"]
        mismatch = client.post(form.redirect_chain[-1][0], {"new_password1": "a new long passphrase",
                                                            "new_password2": "something else"})
        assert mismatch.status_code == 400
        done = client.post(form.redirect_chain[-1][0], {"new_password1": "a new long passphrase",
                                                        "new_password2": "a new long passphrase"})
        assert done.status_code == 302 and done["Location"] == "/accounts/password/reset/done/"
        alice.refresh_from_db()
        assert alice.check_password("a new long passphrase") and not alice.check_password(PASSWORD)
        assert last_event("auth.password_reset_done").actor == alice
        again = Client().get(path, follow=True)
        assert not again.context["validlink"] and b"Ask for a new link" in again.content

    def test_a_disabled_accounts_link_does_not_work(self, alice):
        from portal.accounts.mail import set_password_url

        path = set_password_url(alice).split("//", 1)[1].split("/", 1)[1]
        User.objects.filter(pk=alice.pk).update(is_active=False)
        page = Client().get("/" + path, follow=True)
        assert not page.context["validlink"]


class TestInvitationPage:
    def invite(self, admin):
        return invitation_create(actor=admin, email="new@example.com")

    def test_accepting_signs_the_newcomer_in_and_sends_them_home(self, admin):
        _, token = self.invite(admin)
        browser = Client()
        page = browser.get(f"/accounts/invite/{token}/")
        assert page.status_code == 200 and b"new@example.com" in page.content
        done = browser.post(f"/accounts/invite/{token}/", {"username": "newcomer", "display_name": "New Comer",
                                                           "password": PASSWORD, "password2": PASSWORD})
        assert done.status_code == 302 and done["Location"] == "/"
        home = browser.get("/", follow=True)
        assert home.context["user"].username == "newcomer" and b"New Comer" in home.content
        assert browser.get(f"/accounts/invite/{token}/").status_code == 404

    @pytest.mark.parametrize("spoil", ["used", "revoked", "unknown"])
    def test_used_revoked_and_unknown_links_get_one_page(self, admin, spoil):
        invitation, token = self.invite(admin)
        if spoil == "used":
            Client().post(f"/accounts/invite/{token}/", {"username": "newcomer", "password": PASSWORD,
                                                         "password2": PASSWORD})
        elif spoil == "revoked":
            invitation_revoke(actor=admin, invitation_id=invitation.pk)
        else:
            token = "0" * 16 + "A" * 43
        page = Client().get(f"/accounts/invite/{token}/")
        assert page.status_code == 404 and b"This invitation link does not work" in page.content

    @pytest.mark.parametrize("form, message", [
        ({"username": "newcomer", "password": PASSWORD, "password2": "other"}, b"The two passwords differ"),
        ({"username": "newcomer", "password": "12345", "password2": "12345"}, b"too weak"),
        ({"username": "alice", "password": PASSWORD, "password2": PASSWORD}, b"already exists"),
        ({"username": "new comer", "password": PASSWORD, "password2": PASSWORD}, b"letters, digits"),
    ])
    def test_bad_input_shows_the_form_again(self, admin, alice, form, message):
        _, token = self.invite(admin)
        page = Client().post(f"/accounts/invite/{token}/", form)
        assert page.status_code == 400 and message in page.content
        assert Client().get(f"/accounts/invite/{token}/").status_code == 200  # still usable


class TestProfile:
    def test_the_account_page_shows_the_profile_and_saving_it_works(self, client, alice):
        client.force_login(alice)
        assert b'id="profile-name"' in client.get("/account/").content
        saved = client.post("/account/profile", {"display_name": "Alice L.", "email": "al@example.com",
                                                 "language": ""})
        assert saved.status_code == 302
        alice.refresh_from_db()
        assert (alice.display_name, alice.email) == ("Alice L.", "al@example.com")
        assert b"Alice L." in client.get("/account/").content  # the header names them so

    def test_a_bad_address_is_refused(self, client, alice):
        client.force_login(alice)
        page = client.post("/account/profile", {"display_name": "", "email": "nope", "language": ""})
        assert page.status_code == 400 and b"not an e-mail address" in page.content
        alice.refresh_from_db()
        assert alice.email == "alice@example.com"

    def test_visitors_are_sent_to_sign_in(self, client):
        page = client.post("/account/profile", {"display_name": "x", "email": "", "language": ""})
        assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")

    def test_the_chosen_language_wins_over_the_browsers(self, client, alice):
        client.force_login(alice)
        client.post("/account/profile", {"display_name": "", "email": alice.email, "language": "zh-hans"})
        page = client.get("/account/", HTTP_ACCEPT_LANGUAGE="en")
        assert b'<html lang="zh-hans">' in page.content

    def test_the_header_switch_changes_a_chosen_language(self, client, alice):
        User.objects.filter(pk=alice.pk).update(language="zh-hans")
        client.force_login(alice)
        client.post("/account/language", {"language": "en", "next": "/account/"})
        alice.refresh_from_db()
        assert alice.language == "en"
        assert b'<html lang="en">' in client.get("/account/", HTTP_ACCEPT_LANGUAGE="zh-hans").content
        assert events("user.profile_changed")
