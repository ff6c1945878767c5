"""Profiles, the administrators' account services, invitations and forgot-password links (services)."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts import services_passwords as passwords
from portal.accounts.models import Invitation, User
from portal.accounts.services import (profile_update, user_enable, user_password_reset_send, user_staff_set,
                                      user_two_factor_reset)
from portal.accounts.services_invitations import invitation_accept, invitation_create, invitation_revoke
from portal.audit.models import AuditEvent
from portal.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from portal.people.models import ExternalIdentity
from tests.factories import PASSWORD
from tests.helpers import events, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


class TestProfile:
    def test_name_email_and_language_are_saved_and_audited(self, alice):
        profile_update(actor=alice, display_name="  Alice   Liddell ", email="al@example.com", language="zh-hans")
        alice.refresh_from_db()
        assert (alice.display_name, alice.email, alice.language) == ("Alice Liddell", "al@example.com", "zh-hans")
        event = last_event("user.profile_changed", target_id=str(alice.pk))
        assert event.actor == alice and event.details["email"] == {"from": "alice@example.com", "to": "al@example.com"}

    def test_saving_it_unchanged_records_nothing(self, alice):
        profile_update(actor=alice, display_name="", email=alice.email, language="")
        assert events("user.profile_changed") == []

    @pytest.mark.parametrize("field, value, code", [("email", "not-an-address", "invalid_email"),
                                                    ("language", "klingon", "invalid_language"),
                                                    ("display_name", "x" * 151, "invalid_input")])
    def test_bad_input_is_refused_and_nothing_changes(self, alice, field, value, code):
        values = {"display_name": "", "email": alice.email, "language": "", field: value}
        with pytest.raises(InvalidInput) as refused:
            profile_update(actor=alice, **values)
        assert refused.value.code == code
        alice.refresh_from_db()
        assert alice.email == "alice@example.com" and alice.language == "" and not events("user.profile_changed")


class TestAdministratorsServices:
    def test_enable_lets_a_disabled_account_sign_in_again(self, admin, bob):
        User.objects.filter(pk=bob.pk).update(is_active=False)
        assert user_enable(actor=admin, user_id=bob.pk).is_active
        assert last_event("user.enabled", target_id=str(bob.pk)).actor == admin
        user_enable(actor=admin, user_id=bob.pk)
        assert len(events("user.enabled")) == 1

    def test_only_administrators_enable_and_an_unknown_user_is_not_found(self, admin, alice, bob):
        with pytest.raises(Forbidden):
            user_enable(actor=alice, user_id=bob.pk)
        with pytest.raises(NotFound):
            user_enable(actor=admin, user_id=10**9)

    def test_staff_makes_both_staff_and_superuser_and_back(self, admin, bob):
        user_staff_set(actor=admin, user=bob, staff=True)
        bob.refresh_from_db()
        assert bob.is_staff and bob.is_superuser
        user_staff_set(actor=admin, user=bob, staff=False)
        bob.refresh_from_db()
        assert not bob.is_staff and not bob.is_superuser
        assert [e.details for e in events("user.staff_changed")] == [{"staff": True}, {"staff": False}]

    def test_no_one_takes_administration_from_themselves(self, admin):
        with pytest.raises(InvalidInput) as refused:
            user_staff_set(actor=admin, user=admin, staff=False)
        assert refused.value.code == "self_demote"
        admin.refresh_from_db()
        assert admin.is_superuser

    def test_the_last_administrator_keeps_it_even_when_two_demote_each_other(self, admin, make_user):
        other = make_user(username="root2", is_staff=True, is_superuser=True)
        stale_other = User.objects.get(pk=other.pk)  # as the other's request saw itself
        user_staff_set(actor=admin, user=other, staff=False)
        with pytest.raises(InvalidInput) as refused:
            user_staff_set(actor=stale_other, user=admin, staff=False)
        assert refused.value.code == "last_admin"
        admin.refresh_from_db()
        assert admin.is_superuser

    def test_outsiders_choose_no_administrators(self, alice, bob):
        with pytest.raises(Forbidden):
            user_staff_set(actor=alice, user=bob, staff=True)
        bob.refresh_from_db()
        assert not bob.is_superuser

    def test_two_factor_reset_removes_the_authenticators(self, admin, bob):
        TOTPDevice.objects.create(user=bob, name="phone", confirmed=True)
        assert user_two_factor_reset(actor=admin, user=bob) == 1
        assert not TOTPDevice.objects.filter(user=bob).exists()
        assert last_event("user.two_factor_reset", target_id=str(bob.pk)).details == {"devices": 1}
        assert user_two_factor_reset(actor=admin, user=bob) == 0 and len(events("user.two_factor_reset")) == 1

    def test_outsiders_reset_no_second_factor(self, alice, bob):
        TOTPDevice.objects.create(user=bob, name="phone", confirmed=True)
        with pytest.raises(Forbidden):
            user_two_factor_reset(actor=alice, user=bob)
        assert TOTPDevice.objects.filter(user=bob).exists()

    def test_a_password_link_is_mailed_and_works_once(self, admin, bob, client):
        user_password_reset_send(actor=admin, user=bob)
        (message,) = mail.outbox
        assert message.to == ["bob@example.com"] and "/accounts/password/reset/" in message.body
        assert message.subject == "Your new Coffer account"  # bob never signed in
        assert last_event("user.password_reset_sent", target_id=str(bob.pk)).actor == admin
        bob.refresh_from_db()
        assert bob.check_password(PASSWORD)  # the old password works until they choose a new one

    def test_someone_who_signed_in_before_is_asked_for_a_new_password(self, admin, bob):
        from django.utils import timezone

        User.objects.filter(pk=bob.pk).update(last_login=timezone.now())
        bob.refresh_from_db()
        user_password_reset_send(actor=admin, user=bob)
        assert mail.outbox[0].subject == "Set your Coffer password"

    def test_no_link_for_an_account_without_email_or_disabled_or_by_outsiders(self, admin, alice, make_user):
        nomail = make_user(username="nomail", email="")
        gone = make_user(username="gone", is_active=False)
        with pytest.raises(InvalidInput, match="no e-mail"):
            user_password_reset_send(actor=admin, user=nomail)
        with pytest.raises(InvalidInput, match="disabled"):
            user_password_reset_send(actor=admin, user=gone)
        with pytest.raises(Forbidden):
            user_password_reset_send(actor=alice, user=gone)
        assert mail.outbox == [] and not events("user.password_reset_sent")


class TestInvitations:
    def test_an_invitation_mails_a_link_and_keeps_only_a_hash(self, admin):
        invitation, token = invitation_create(actor=admin, email="new@example.com", staff=True)
        (message,) = mail.outbox
        assert message.to == ["new@example.com"] and f"/accounts/invite/{token}/" in message.body
        assert token not in invitation.verifier_hash and invitation.selector in token
        assert len(token) >= 16 + 43  # a 64-bit selector and a 256-bit secret
        assert invitation.expires_at - timezone.now() > timedelta(days=6, hours=23)
        assert last_event("invitation.created").details["staff"] is True

    def test_accepting_makes_the_account_once(self, admin):
        invitation, token = invitation_create(actor=admin, email="new@example.com", staff=True)
        user = invitation_accept(token=token, username="newcomer", password=PASSWORD, display_name="New Comer")
        assert (user.email, user.display_name, user.is_superuser, user.is_staff) == (
            "new@example.com", "New Comer", True, True)
        invitation.refresh_from_db()
        assert invitation.accepted_user == user and invitation.accepted_at
        assert last_event("invitation.accepted").actor == user
        with pytest.raises(NotFound) as again:
            invitation_accept(token=token, username="second", password=PASSWORD)
        assert again.value.code == "invitation_invalid"
        assert not User.objects.filter(username="second").exists()

    @pytest.mark.parametrize("spoil", ["expired", "revoked", "unknown", "garbage"])
    def test_expired_revoked_and_unknown_links_get_the_same_answer(self, admin, spoil):
        invitation, token = invitation_create(actor=admin, email="new@example.com")
        if spoil == "expired":
            Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        elif spoil == "revoked":
            invitation_revoke(actor=admin, invitation_id=invitation.pk)
        elif spoil == "unknown":
            token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        else:
            token = "nonsense"
        with pytest.raises(NotFound) as refused:
            invitation_accept(token=token, username="newcomer", password=PASSWORD)
        assert refused.value.code == "invitation_invalid"
        assert not User.objects.filter(username="newcomer").exists()

    def test_a_bad_choice_leaves_the_invitation_usable(self, admin, alice):
        _, token = invitation_create(actor=admin, email="new@example.com")
        for username, password in (("alice", PASSWORD), ("new comer", PASSWORD), ("newcomer", "12345")):
            with pytest.raises((Conflict, InvalidInput)):
                invitation_accept(token=token, username=username, password=password)
        assert invitation_accept(token=token, username="newcomer", password=PASSWORD).username == "newcomer"

    def test_only_administrators_invite_or_revoke(self, admin, alice):
        with pytest.raises(Forbidden):
            invitation_create(actor=alice, email="new@example.com")
        invitation, _ = invitation_create(actor=admin, email="new@example.com")
        with pytest.raises(Forbidden):
            invitation_revoke(actor=alice, invitation_id=invitation.pk)
        invitation.refresh_from_db()
        assert invitation.revoked_at is None

    def test_bad_addresses_and_existing_accounts_are_refused(self, admin, alice):
        with pytest.raises(InvalidInput):
            invitation_create(actor=admin, email="nope")
        with pytest.raises(Conflict):
            invitation_create(actor=admin, email="ALICE@example.com")
        assert not Invitation.objects.exists() and mail.outbox == []


class TestForgotPassword:
    @pytest.fixture(autouse=True)
    def _fresh_counts(self):
        from django.core.cache import cache

        cache.clear()  # the per-address counts live in the cache, which outlives a test

    def ask(self, email, ip="192.0.2.7", *, callbacks):
        with callbacks(execute=True):
            passwords.password_reset_request(email=email, ip=ip, language="en")

    def test_a_known_address_gets_a_link_and_the_sending_is_audited(self, alice, eager_celery,
                                                                    django_capture_on_commit_callbacks):
        self.ask("ALICE@example.com", callbacks=django_capture_on_commit_callbacks)
        (message,) = mail.outbox
        assert message.to == ["alice@example.com"] and "/accounts/password/reset/" in message.body
        event = last_event("auth.password_reset_requested", target_id=str(alice.pk))
        assert event.ip == "192.0.2.7" and event.actor is None

    def test_unknown_disabled_and_single_sign_on_accounts_get_nothing(self, make_user, eager_celery,
                                                                      django_capture_on_commit_callbacks):
        make_user(username="gone", email="gone@example.com", is_active=False)
        sso = make_user(username="sso", email="sso@example.com")
        sso.set_unusable_password()
        sso.save()
        ExternalIdentity.objects.create(user=sso, source="oidc", subject="abc")
        for email in ("nobody@example.com", "gone@example.com", "sso@example.com"):
            self.ask(email, callbacks=django_capture_on_commit_callbacks)
        assert mail.outbox == [] and not events("auth.password_reset_requested")

    def test_a_local_account_without_a_password_yet_may_set_one(self, make_user, eager_celery,
                                                                 django_capture_on_commit_callbacks):
        new = make_user(username="new", email="new@example.com")
        new.set_unusable_password()
        new.save()
        self.ask("new@example.com", callbacks=django_capture_on_commit_callbacks)
        assert len(mail.outbox) == 1

    def test_at_most_five_an_hour_per_address_and_per_client(self, alice, bob, settings, eager_celery,
                                                              django_capture_on_commit_callbacks):
        for n in range(7):
            self.ask("alice@example.com", ip=f"192.0.2.{n}", callbacks=django_capture_on_commit_callbacks)
        assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_HOUR
        for n in range(7):
            self.ask("bob@example.com" if n == 6 else f"x{n}@example.com", ip="198.51.100.1",
                     callbacks=django_capture_on_commit_callbacks)
        assert [m.to for m in mail.outbox[5:]] == []  # the sixth ask from that client sends nothing
        assert len(events("auth.password_reset_requested")) == settings.PASSWORD_RESETS_PER_HOUR

    def test_the_request_itself_sends_nothing_the_task_does(self, alice, django_capture_on_commit_callbacks):
        """So a known address answers as fast as an unknown one."""
        with django_capture_on_commit_callbacks(execute=False) as queued:
            passwords.password_reset_request(email="alice@example.com", ip="192.0.2.1", language="en")
        assert len(queued) == 1 and mail.outbox == [] and not events("auth.password_reset_requested")

    def test_completing_sets_the_password_and_records_it(self, alice):
        passwords.password_reset_complete(user=alice, password="a brand new passphrase")
        alice.refresh_from_db()
        assert alice.check_password("a brand new passphrase")
        assert last_event("auth.password_reset_done").actor == alice
        assert AuditEvent.objects.filter(action="auth.password_reset_done").count() == 1
