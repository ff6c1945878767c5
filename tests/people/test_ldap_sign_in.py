"""Signing in through a real OpenLDAP server (tests/support/slapd.py) with
the normal sign-in form: accounts made and linked by entryUUID, attributes
and nested groups mirrored, required group, wrong passwords, a directory
that does not answer, local accounts beside it."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.accounts.models import User
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.people.models import ExternalIdentity, Group, GroupSource
from portal.spaces.models import Space, SpaceKind
from tests.factories import PASSWORD
from tests.support.slapd import password_of

pytestmark = pytest.mark.django_db


def sign_in(username: str, password: str, address: str = "192.0.2.40"):
    browser = Client()
    response = browser.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)
    return browser, response


def test_a_directory_user_signs_in_and_gets_a_linked_account_with_a_personal_space(ldap_directory):
    browser, response = sign_in("lena", password_of("lena"))
    assert response.status_code == 302
    user = User.objects.get(username="lena")
    assert (user.email, user.first_name, user.last_name) == ("lena@example.test", "Lena", "Lindqvist")
    assert not user.has_usable_password()
    identity = ExternalIdentity.objects.get(user=user, source=GroupSource.LDAP)
    assert len(identity.subject) == 36 and identity.subject.count("-") == 4  # entryUUID
    assert Space.objects.filter(created_by=user, kind=SpaceKind.PERSONAL).count() == 1
    created = AuditEvent.objects.get(action=Action.USER_CREATED, target_id=str(user.pk))
    assert created.details["source"] == "ldap" and created.actor_label == "ldap"
    assert browser.get("/").status_code == 200


def test_a_wrong_password_is_refused_and_makes_no_account(ldap_directory):
    _, response = sign_in("lena", "not-her-password")
    assert response.status_code == 200
    assert not User.objects.filter(username__iexact="lena").exists()
    assert AuditEvent.objects.filter(action=Action.LOGIN_FAILED, actor_label="lena").exists()


def test_an_unknown_name_is_refused(ldap_directory):
    _, response = sign_in("nobody", "whatever-password")
    assert response.status_code == 200 and not User.objects.filter(username="nobody").exists()


def test_nested_groups_are_mirrored_at_sign_in(ldap_directory):
    sign_in("quinn", password_of("quinn"))
    quinn = User.objects.get(username="quinn")
    names = set(Group.objects.filter(members=quinn).values_list("name", flat=True))
    assert names == {"platform", "engineering", "coffer-users"}
    assert set(Group.objects.filter(members=quinn).values_list("source", flat=True)) == {GroupSource.LDAP}


def test_a_user_outside_the_required_group_is_refused(ldap_directory, settings):
    settings.LDAP_REQUIRE_GROUP = ldap_directory.group_dn("coffer-users")
    _, refused = sign_in("pia", password_of("pia"))
    assert refused.status_code == 200 and not User.objects.filter(username="pia").exists()
    _, nested_member = sign_in("quinn", password_of("quinn"), address="192.0.2.41")
    assert nested_member.status_code == 302


def test_changed_attributes_and_groups_are_taken_at_the_next_sign_in(ldap_directory):
    sign_in("omar", password_of("omar"))
    ldap_directory.modify(ldap_directory.dn("omar"), {"mail": ["omar.haddad@example.test"], "sn": ["Haddad-Ruiz"]})
    ldap_directory.modify(ldap_directory.group_dn("engineering"), {"member": [ldap_directory.dn("lena")]})
    _, response = sign_in("omar", password_of("omar"))
    assert response.status_code == 302
    omar = User.objects.get(username="omar")
    assert (omar.email, omar.last_name) == ("omar.haddad@example.test", "Haddad-Ruiz")
    assert not Group.objects.filter(members=omar).exists()  # engineering (and so coffer-users) no longer has him
    updated = AuditEvent.objects.get(action=Action.DIRECTORY_USER_UPDATED, target_id=str(omar.pk))
    assert updated.details["fields"] == "email, last_name"
    assert ExternalIdentity.objects.filter(user=omar).count() == 1


def test_local_accounts_keep_working_beside_the_directory(ldap_directory, make_user):
    make_user(username="breakglass")
    _, response = sign_in("breakglass", PASSWORD)
    assert response.status_code == 302


def test_a_local_account_of_the_same_name_is_not_taken_over(ldap_directory, make_user):
    local = make_user(username="lena")
    _, response = sign_in("lena", password_of("lena"))
    assert response.status_code == 200
    assert not ExternalIdentity.objects.filter(user=local).exists()
    _, own_password = sign_in("lena", PASSWORD, address="192.0.2.42")
    assert own_password.status_code == 302


def test_a_disabled_account_cannot_sign_in_through_the_directory(ldap_directory):
    sign_in("lena", password_of("lena"))
    User.objects.filter(username="lena").update(is_active=False)
    _, response = sign_in("lena", password_of("lena"), address="192.0.2.43")
    assert response.status_code == 200


def test_a_directory_that_does_not_answer_refuses_its_users_and_not_local_ones(ldap_directory, settings, make_user):
    from tests.support.slapd import _free_port

    settings.LDAP_URI = f"ldap://127.0.0.1:{_free_port()}/"
    settings.LDAP_TIMEOUT = 2
    make_user(username="breakglass")
    _, response = sign_in("lena", password_of("lena"))
    assert response.status_code == 200 and not User.objects.filter(username="lena").exists()
    _, local = sign_in("breakglass", PASSWORD, address="192.0.2.44")
    assert local.status_code == 302


def test_a_person_the_directory_marks_disabled_cannot_sign_in(ldap_directory, settings):
    settings.LDAP_DISABLED_FILTER = "(description=disabled)"
    ldap_directory.modify(ldap_directory.dn("lena"), {"description": ["disabled"]})
    _, response = sign_in("lena", password_of("lena"))
    assert response.status_code == 200 and not User.objects.filter(username="lena").exists()
