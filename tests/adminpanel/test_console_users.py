"""Console, users: the list, search, create, invite, and every account action."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.people.models import ExternalIdentity, GroupSource
from tests.adminpanel.console_support import assert_portal_404

pytestmark = pytest.mark.django_db


def test_the_user_list_shows_status_source_and_two_factor(boss_client, alice, bob):
    ExternalIdentity.objects.create(user=bob, source=GroupSource.LDAP, subject="uid=bob")
    TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    page = boss_client.get(reverse("manage:users")).content.decode()
    assert 'data-username="alice"' in page and 'data-username="bob"' in page
    alice_row = page.split('data-username="alice"')[1].split("</tr>")[0]
    bob_row = page.split('data-username="bob"')[1].split("</tr>")[0]
    assert "2FA on" in alice_row and "Local" in alice_row
    assert "LDAP" in bob_row and "2FA on" not in bob_row


def test_the_user_list_searches_names_and_addresses(boss_client, alice, bob):
    page = boss_client.get(reverse("manage:users"), {"q": "bob@example"}).content.decode()
    assert 'data-username="bob"' in page and 'data-username="alice"' not in page


def test_the_user_list_pages(boss_client, make_user):
    for number in range(55):
        make_user(username=f"person{number:02d}")
    first = boss_client.get(reverse("manage:users")).content.decode()
    second = boss_client.get(reverse("manage:users"), {"page": 2}).content.decode()
    assert "Next page" in first and 'data-username="person00"' in first
    assert 'data-username="person00"' not in second and "Previous page" in second
    assert boss_client.get(reverse("manage:users"), {"page": "x"}).status_code == 200


@pytest.mark.parametrize("name,args", [("manage:users", []), ("manage:groups", []), ("manage:spaces", []),
                                       ("manage:settings", [])])
def test_console_pages_are_404_for_non_administrators(user_client, name, args):
    assert_portal_404(user_client.get(reverse(name, args=args)))


def test_console_pages_send_strangers_to_sign_in(client):
    response = client.get(reverse("manage:users"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_administrator_creates_a_user_with_a_password(boss_client):
    response = boss_client.post(reverse("manage:user-new"), {"username": "carol", "email": "carol@example.com",
                                                            "password": "a long enough pass phrase"})
    assert response.status_code == 303
    carol = User.objects.get(username="carol")
    assert carol.check_password("a long enough pass phrase") and carol.is_active
    assert AuditEvent.objects.filter(action=Action.USER_CREATED, target_id=str(carol.pk)).exists()


def test_an_administrator_creates_a_user_who_gets_a_set_password_link(boss_client):
    response = boss_client.post(reverse("manage:user-new"), {"username": "dora", "email": "dora@example.com",
                                                            "send_link": "on"})
    assert response.status_code == 303
    assert User.objects.filter(username="dora").exists()
    assert [m.to for m in mail.outbox] == [["dora@example.com"]]


@pytest.mark.parametrize("data,code", [
    ({"username": "", "password": "a long enough pass phrase"}, b"invalid_username"),
    ({"username": "erin"}, b"invalid_password"),
    ({"username": "erin", "send_link": "on"}, b"invalid_email"),
    ({"username": "erin", "password": "123"}, b"weak_password"),
    ({"username": "ALICE", "password": "a long enough pass phrase"}, b"user_exists"),
])
def test_creating_a_user_with_bad_input_says_why(boss_client, alice, data, code):
    response = boss_client.post(reverse("manage:user-new"), data, HTTP_HX_REQUEST="true")
    assert response.status_code in (400, 409) and code in response.content
    assert not User.objects.filter(username="erin").exists()


def test_non_administrators_cannot_create_users(user_client):
    assert_portal_404(user_client.post(reverse("manage:user-new"),
                                       {"username": "x", "password": "a long pass phrase x"}))
    assert not User.objects.filter(username="x").exists()


def test_an_administrator_invites_by_e_mail(boss_client):
    response = boss_client.post(reverse("manage:user-invite"), {"email": "new@example.com"})
    assert response.status_code == 303
    assert AuditEvent.objects.filter(action=Action.INVITATION_CREATED).exists()
    assert mail.outbox[-1].to == ["new@example.com"]


def test_inviting_a_bad_address_or_as_a_non_administrator_is_refused(boss_client, user_client):
    assert boss_client.post(reverse("manage:user-invite"), {"email": "nope"}, HTTP_HX_REQUEST="true").status_code == 400
    assert_portal_404(user_client.post(reverse("manage:user-invite"), {"email": "new@example.com"}))
    assert not AuditEvent.objects.filter(action=Action.INVITATION_CREATED).exists()


def _act(client, user, action, **extra):
    return client.post(reverse("manage:user-action", args=[user.pk, action]), extra)


def test_an_administrator_disables_and_enables_an_account(boss_client, bob):
    assert _act(boss_client, bob, "disable").status_code == 303
    bob.refresh_from_db()
    assert not bob.is_active
    assert _act(boss_client, bob, "enable").status_code == 303
    bob.refresh_from_db()
    assert bob.is_active
    actions = set(AuditEvent.objects.filter(target_id=str(bob.pk)).values_list("action", flat=True))
    assert {Action.USER_DISABLED, Action.USER_ENABLED} <= actions


def test_an_administrator_cannot_disable_themselves(boss_client, boss):
    response = _act(boss_client, boss, "disable")
    assert response.status_code == 400
    boss.refresh_from_db()
    assert boss.is_active


def test_an_administrator_makes_and_unmakes_administrators(boss_client, bob):
    _act(boss_client, bob, "make-admin")
    bob.refresh_from_db()
    assert bob.is_superuser and bob.is_staff
    _act(boss_client, bob, "unmake-admin")
    bob.refresh_from_db()
    assert not bob.is_superuser


def test_an_administrator_resets_two_factor_and_sends_a_password_link(boss_client, bob):
    TOTPDevice.objects.create(user=bob, name="phone", confirmed=True)
    assert _act(boss_client, bob, "reset-two-factor").status_code == 303
    assert not TOTPDevice.objects.filter(user=bob).exists()
    assert _act(boss_client, bob, "reset-password").status_code == 303
    assert mail.outbox[-1].to == ["bob@example.com"]


def test_account_actions_on_unknown_users_or_actions_are_404(boss_client):
    assert boss_client.post("/manage/users/999999/disable/").status_code == 404
    assert boss_client.post("/manage/users/1/explode/").status_code == 404


def test_account_actions_are_404_for_non_administrators(user_client, bob):
    for action in ("disable", "make-admin", "reset-password"):
        assert_portal_404(_act(user_client, bob, action))
    bob.refresh_from_db()
    assert bob.is_active and not bob.is_superuser


def test_account_actions_need_post(boss_client, bob):
    assert boss_client.get(reverse("manage:user-action", args=[bob.pk, "disable"])).status_code == 405
