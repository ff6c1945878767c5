"""manage.py user_create and group_add: scripted set-up of accounts, audited as the system."""

import io
import re

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client

from portal.accounts.models import User
from portal.audit.models import AuditEvent
from portal.people.models import Group, GroupSource
from portal.people.services import group_create
from tests.factories import PASSWORD
from tests.helpers import events, last_event

pytestmark = pytest.mark.django_db


def run(*args, stdin=None) -> str:
    out = io.StringIO()
    options = {"stdin": stdin} if stdin is not None else {}
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def link_in(text: str) -> str:
    return re.search(r"https?://\S+/accounts/password/reset/\S+/", text).group(0)


def set_password_through(link: str, password: str) -> Client:
    browser = Client()
    path = link.split("//", 1)[1].split("/", 1)[1]
    page = browser.get("/" + path, follow=True)
    assert page.status_code == 200 and page.context["validlink"]
    done = browser.post(page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    assert done.status_code == 302, done.content
    return browser


class TestUserCreate:
    def test_a_password_from_stdin_makes_a_user_who_signs_in_with_it(self):
        output = run("user_create", "carol", "--email", "carol@example.com", "--password-stdin",
                     stdin=io.StringIO(PASSWORD + "\n"))
        assert "carol" in output and PASSWORD not in output
        carol = User.objects.get(username="carol")
        assert carol.check_password(PASSWORD) and carol.email == "carol@example.com"
        assert not carol.is_staff and not carol.is_superuser
        assert mail.outbox == []
        event = last_event("user.created", target_id=str(carol.pk))
        assert event.actor is None

    def test_staff_makes_an_administrator(self):
        run("user_create", "root2", "--staff", "--password-stdin", stdin=io.StringIO(PASSWORD + "\n"))
        root = User.objects.get(username="root2")
        assert root.is_staff and root.is_superuser

    def test_without_a_password_the_email_gets_a_one_time_set_password_link(self):
        output = run("user_create", "dave", "--email", "dave@example.com")
        assert "mailed a link" in output and "dave@example.com" in output
        dave = User.objects.get(username="dave")
        assert not dave.has_usable_password()
        (message,) = mail.outbox
        assert message.to == ["dave@example.com"]
        assert last_event("user.password_reset_sent", target_id=str(dave.pk)).actor is None
        set_password_through(link_in(message.body), PASSWORD)
        assert User.objects.get(username="dave").check_password(PASSWORD)

    def test_without_a_password_or_email_it_prints_a_link_that_works_once(self):
        output = run("user_create", "erin")
        link = link_in(output)
        set_password_through(link, PASSWORD)
        assert User.objects.get(username="erin").check_password(PASSWORD)
        again = Client().get("/" + link.split("//", 1)[1].split("/", 1)[1], follow=True)
        assert not again.context["validlink"]

    def test_a_taken_username_is_refused_with_exit_code_2_and_nothing_changes(self, alice):
        before = AuditEvent.objects.count()
        with pytest.raises(CommandError) as refused:
            run("user_create", "ALICE", "--email", "other@example.com")
        assert refused.value.returncode == 2 and "already exists" in str(refused.value)
        assert User.objects.count() == 1 and AuditEvent.objects.count() == before and mail.outbox == []

    def test_a_bad_email_is_refused(self):
        with pytest.raises(CommandError, match="not an e-mail address") as refused:
            run("user_create", "frank", "--email", "frank-at-example")
        assert refused.value.returncode == 2
        assert not User.objects.filter(username="frank").exists()

    def test_a_weak_password_is_refused(self):
        with pytest.raises(CommandError, match="too weak"):
            run("user_create", "gina", "--password-stdin", stdin=io.StringIO("12345\n"))
        assert not User.objects.filter(username="gina").exists()

    def test_an_empty_stdin_is_refused(self):
        with pytest.raises(CommandError, match="no password"):
            run("user_create", "hal", "--password-stdin", stdin=io.StringIO(""))
        assert not User.objects.filter(username="hal").exists()


class TestGroupAdd:
    def test_it_creates_the_local_group_and_adds_each_user(self, alice, bob):
        output = run("group_add", "Finance", "alice", "BOB")
        group = Group.objects.get(name="Finance")
        assert group.source == GroupSource.LOCAL
        assert set(group.members.values_list("username", flat=True)) == {"alice", "bob"}
        assert "new group" in output
        assert last_event("group.created", target_id=str(group.pk)).actor is None
        assert {e.target_label for e in events("group.member_added")} == {"alice", "bob"}

    def test_an_existing_group_gets_the_new_members_only(self, alice, bob):
        run("group_add", "Finance", "alice")
        output = run("group_add", "finance", "alice", "bob")
        assert Group.objects.count() == 1
        assert "added bob" in output and "1 already a member" in output
        assert len(events("group.member_added")) == 2

    def test_an_unknown_user_changes_nothing_and_exits_2(self, alice):
        before = AuditEvent.objects.count()
        with pytest.raises(CommandError, match="nobody") as refused:
            run("group_add", "Finance", "alice", "nobody")
        assert refused.value.returncode == 2
        assert not Group.objects.exists() and AuditEvent.objects.count() == before

    def test_a_mirrored_group_is_not_changed_here(self, alice):
        group_create(actor=None, name="Sales", source=GroupSource.LDAP, external_id="cn=sales")
        with pytest.raises(CommandError, match="mirrored") as refused:
            run("group_add", "Sales", "alice")
        assert refused.value.returncode == 2
        assert not Group.objects.get(name="Sales").members.exists()

    def test_a_bad_group_name_is_refused(self, alice):
        with pytest.raises(CommandError) as refused:
            run("group_add", "   ", "alice")
        assert refused.value.returncode == 2
        assert not Group.objects.exists()
