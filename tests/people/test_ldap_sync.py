"""The full LDAP sync against a real OpenLDAP server: creating, updating,
disabling (ending sessions and tokens) and enabling accounts, mirroring
nested groups, a second run changing nothing, and a directory that does
not answer changing nothing."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from portal.accounts.models import PersonalAccessToken, User
from portal.accounts.services import token_issue, user_disable
from portal.audit.actions import Action
from portal.audit.chain import chain_seal
from portal.audit.models import AuditEvent, Outcome
from portal.core.errors import Forbidden
from portal.people.directory.config import DirectoryUnavailable
from portal.people.directory.services import directory_sync
from portal.people.models import ExternalIdentity, Group, GroupMember, GroupSource
from portal.spaces.models import Membership, Space, SpaceKind
from tests.support.slapd import password_of, person_ldif

pytestmark = pytest.mark.django_db


def members(name: str) -> set[str]:
    return set(GroupMember.objects.filter(group__name=name).values_list("user__username", flat=True))


def test_the_first_sync_creates_every_person_with_a_personal_space_and_mirrors_nested_groups(ldap_directory):
    report = directory_sync(actor=None)
    assert (report.people, report.created, report.groups_created) == (4, 4, 4)
    assert set(User.objects.values_list("username", flat=True)) >= {"lena", "omar", "quinn", "pia"}
    lena = User.objects.get(username="lena")
    assert (lena.email, lena.first_name, lena.last_name) == ("lena@example.test", "Lena", "Lindqvist")
    assert not lena.has_usable_password()
    space = Space.objects.get(created_by=lena, kind=SpaceKind.PERSONAL)
    assert Membership.objects.filter(space=space, user=lena, role="owner").exists()
    assert ExternalIdentity.objects.filter(source=GroupSource.LDAP).count() == 4
    assert members("coffer-users") == {"lena", "omar", "quinn"}  # engineering and platform inside
    assert members("engineering") == {"omar", "quinn"}
    assert members("platform") == {"quinn"} and members("sales") == {"pia"}
    events = AuditEvent.objects.filter(actor_label="ldap")
    assert events.filter(action=Action.USER_CREATED).count() == 4
    assert events.filter(action=Action.SPACE_CREATED).count() == 4
    assert events.filter(action=Action.GROUP_MEMBER_ADDED).count() == 7
    summary = AuditEvent.objects.get(action=Action.DIRECTORY_SYNCED)
    assert summary.details["created"] == 4 and summary.outcome == Outcome.SUCCESS


def test_a_second_sync_changes_nothing_and_writes_only_its_summary(ldap_directory):
    directory_sync(actor=None)
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    report = directory_sync(actor=None)
    assert (report.created, report.updated, report.disabled, report.members_added, report.members_removed) == (
        0, 0, 0, 0, 0)
    assert list(AuditEvent.objects.filter(id__gt=before).values_list("action", flat=True)) == [
        Action.DIRECTORY_SYNCED]


def test_a_sync_takes_changed_attributes_and_memberships(ldap_directory):
    directory_sync(actor=None)
    ldap_directory.modify(ldap_directory.dn("pia"), {"mail": ["pia.s@example.test"], "displayName": ["Pia"]})
    ldap_directory.modify(ldap_directory.group_dn("platform"), {"member": [ldap_directory.dn("pia")]})
    report = directory_sync(actor=None)
    assert report.updated == 1 and User.objects.get(username="pia").email == "pia.s@example.test"
    assert members("platform") == {"pia"} and members("coffer-users") == {"lena", "omar", "pia"}
    assert "quinn" not in members("engineering")
    assert AuditEvent.objects.filter(action=Action.GROUP_MEMBER_REMOVED, target_label="quinn").count() == 3


def test_a_person_gone_from_the_directory_is_disabled_and_loses_sessions_and_tokens(ldap_directory):
    directory_sync(actor=None)
    browser = Client()
    assert browser.post("/accounts/login/", {"username": "omar", "password": password_of("omar")},
                        REMOTE_ADDR="192.0.2.50").status_code == 302
    omar = User.objects.get(username="omar")
    token, _ = token_issue(actor=omar, owner=omar, name="laptop")
    assert any(s.get_decoded().get("_auth_user_id") == str(omar.pk) for s in Session.objects.all())
    ldap_directory.delete(ldap_directory.dn("omar"))
    report = directory_sync(actor=None)
    assert report.disabled == 1
    omar.refresh_from_db()
    assert not omar.is_active
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked_at is not None
    assert not any(s.get_decoded().get("_auth_user_id") == str(omar.pk) for s in Session.objects.all())
    assert browser.get("/").status_code == 302  # signed out
    assert members("engineering") == {"quinn"}
    disabled = AuditEvent.objects.get(action=Action.USER_DISABLED, target_id=str(omar.pk))
    assert disabled.actor_id is None and disabled.actor_label == "ldap" and disabled.details["tokens"] == 1


def test_a_person_disabled_by_the_directory_filter_is_disabled_and_enabled_again(ldap_directory, settings):
    settings.LDAP_DISABLED_FILTER = "(description=disabled)"
    directory_sync(actor=None)
    ldap_directory.modify(ldap_directory.dn("quinn"), {"description": ["disabled"]})
    assert directory_sync(actor=None).disabled == 1
    assert not User.objects.get(username="quinn").is_active
    ldap_directory.modify(ldap_directory.dn("quinn"), {"description": None})
    assert directory_sync(actor=None).enabled == 1
    assert User.objects.get(username="quinn").is_active


def test_an_account_an_administrator_disabled_stays_disabled(ldap_directory, admin):
    directory_sync(actor=None)
    user_disable(actor=admin, user_id=User.objects.get(username="lena").pk)
    assert directory_sync(actor=None).enabled == 0
    assert not User.objects.get(username="lena").is_active


def test_the_required_group_limits_who_is_synchronised(ldap_directory, settings):
    settings.LDAP_REQUIRE_GROUP = ldap_directory.group_dn("coffer-users")
    report = directory_sync(actor=None)
    assert report.created == 3 and not User.objects.filter(username="pia").exists()


def test_a_group_gone_from_the_directory_is_deleted_and_a_renamed_one_kept(ldap_directory):
    directory_sync(actor=None)
    sales = Group.objects.get(name="sales")
    ldap_directory.delete(ldap_directory.group_dn("sales"))
    engineering = Group.objects.get(name="engineering")
    ldap_directory.rename(ldap_directory.group_dn("engineering"), "cn=R&D")
    report = directory_sync(actor=None)
    assert report.groups_deleted == 1 and not Group.objects.filter(pk=sales.pk).exists()
    assert AuditEvent.objects.filter(action=Action.GROUP_DELETED, target_id=str(sales.pk)).exists()
    assert report.groups_renamed == 1 and Group.objects.get(pk=engineering.pk).name == "R&D"
    assert members("R&D") == {"omar", "quinn"}  # the group kept its members (and its space roles)


def test_a_directory_group_named_like_a_local_group_is_mirrored_beside_it(ldap_directory):
    from portal.people.services import group_create

    local = group_create(actor=None, name="Sales")
    directory_sync(actor=None)
    assert Group.objects.get(pk=local.pk).members.count() == 0
    assert members("sales (ldap)") == {"pia"}


def test_a_new_person_is_created_and_a_local_namesake_is_left_alone(ldap_directory, make_user):
    make_user(username="ursula")
    ldap_directory.add(person_ldif(ldap_directory.base, "ursula", "Ursula", "Berg", "U. Berg") + "\n"
                       + person_ldif(ldap_directory.base, "viktor", "Viktor", "Kral", "V. Kral"))
    report = directory_sync(actor=None)
    assert report.conflicts == ["ursula"] and report.created == 5
    assert not ExternalIdentity.objects.filter(user__username="ursula").exists()


def test_a_directory_that_does_not_answer_changes_nothing_and_says_so(ldap_directory, settings):
    directory_sync(actor=None)
    from tests.support.slapd import _free_port

    settings.LDAP_URI = f"ldap://127.0.0.1:{_free_port()}/"
    settings.LDAP_TIMEOUT = 2
    with pytest.raises(DirectoryUnavailable) as caught:
        directory_sync(actor=None)
    assert "could not be read" in caught.value.message and "nothing was changed" in caught.value.message
    assert User.objects.filter(username__in=["lena", "omar", "quinn", "pia"], is_active=True).count() == 4
    failed = AuditEvent.objects.get(action=Action.DIRECTORY_SYNCED, outcome=Outcome.FAILURE)
    assert failed.details["code"] == "directory_unavailable"


def test_a_directory_that_returns_nobody_disables_nobody(ldap_directory, settings):
    directory_sync(actor=None)
    settings.LDAP_USER_FILTER = "(uid=no-such-person)"
    with pytest.raises(DirectoryUnavailable):
        directory_sync(actor=None)
    assert User.objects.filter(username__in=["lena", "omar", "quinn", "pia"], is_active=True).count() == 4


def test_only_administrators_start_a_sync(ldap_directory, alice):
    with pytest.raises(Forbidden):
        directory_sync(actor=alice)


def test_the_command_prints_the_counts_and_the_audit_chain_verifies(ldap_directory, capsys):
    call_command("ldap_sync")
    assert "4 created" in capsys.readouterr().out
    from portal.audit.verify import chain_verify

    assert chain_seal() > 10
    report = chain_verify(heads=0)
    assert report.ok, report.problems


def test_the_beat_task_runs_the_sync_and_does_nothing_without_a_directory(ldap_directory, settings):
    from portal.people.tasks import ldap_sync

    assert ldap_sync()["created"] == 4
    settings.LDAP_URI = ""
    assert ldap_sync() is None


def test_the_command_fails_with_the_reason_when_the_directory_does_not_answer(ldap_directory, settings):
    from django.core.management.base import CommandError

    from tests.support.slapd import _free_port

    settings.LDAP_URI = f"ldap://127.0.0.1:{_free_port()}/"
    settings.LDAP_TIMEOUT = 2
    with pytest.raises(CommandError, match="could not be read"):
        call_command("ldap_sync")
    assert not User.objects.filter(username="lena").exists()
