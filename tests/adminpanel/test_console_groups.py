"""Console, groups: list, create, rename, delete, members; mirrored groups read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.people.models import Group, GroupSource
from portal.people.services import group_create, group_member_add
from tests.adminpanel.console_support import assert_portal_404

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_group(boss, alice):
    group = group_create(actor=boss, name="Finance")
    group_member_add(actor=boss, group=group, user=alice)
    return group


@pytest.fixture
def mirrored(boss):
    return group_create(actor=None, name="Engineering", source=GroupSource.LDAP, external_id="cn=eng")


def test_the_group_list_shows_source_and_member_count(boss_client, staff_group, mirrored):
    page = boss_client.get(reverse("manage:groups")).content.decode()
    finance = page.split("Finance</a>")[1].split("</tr>")[0]
    assert "Local" in finance and ">1<" in finance
    assert "Engineering" in page and "LDAP directory" in page


def test_an_administrator_creates_a_group(boss_client):
    response = boss_client.post(reverse("manage:group-new"), {"name": "Legal"})
    group = Group.objects.get(name="Legal")
    assert response.status_code == 303 and response["Location"] == reverse("manage:group", args=[group.pk])
    assert group.source == GroupSource.LOCAL
    assert AuditEvent.objects.filter(action=Action.GROUP_CREATED).exists()


@pytest.mark.parametrize("name,status", [("", 400), ("finance", 409)])
def test_creating_a_group_with_bad_input_says_why(boss_client, staff_group, name, status):
    assert boss_client.post(reverse("manage:group-new"), {"name": name}, HTTP_HX_REQUEST="true").status_code == status
    assert Group.objects.count() == 1


def test_an_administrator_renames_adds_and_removes_members_and_deletes(boss_client, staff_group, bob, alice):
    base = [staff_group.pk]
    assert boss_client.post(reverse("manage:group-rename", args=base), {"name": "Money"}).status_code == 303
    staff_group.refresh_from_db()
    assert staff_group.name == "Money"
    assert boss_client.post(reverse("manage:group-member-add", args=base), {"username": "BOB"}).status_code == 303
    assert set(staff_group.members.values_list("username", flat=True)) == {"alice", "bob"}
    page = boss_client.get(reverse("manage:group", args=base)).content.decode()
    assert "bob" in page and "Add member" in page
    url = reverse("manage:group-member-remove", args=[staff_group.pk, alice.pk])
    assert boss_client.post(url).status_code == 303
    assert list(staff_group.members.values_list("username", flat=True)) == ["bob"]
    assert boss_client.post(reverse("manage:group-delete", args=base)).status_code == 303
    assert not Group.objects.filter(pk=staff_group.pk).exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {Action.GROUP_RENAMED, Action.GROUP_MEMBER_ADDED, Action.GROUP_MEMBER_REMOVED,
            Action.GROUP_DELETED} <= actions


def test_adding_an_unknown_user_says_so(boss_client, staff_group):
    response = boss_client.post(reverse("manage:group-member-add", args=[staff_group.pk]), {"username": "nobody"},
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and b"unknown_user" in response.content


def test_mirrored_groups_are_read_only(boss_client, mirrored, bob):
    page = boss_client.get(reverse("manage:group", args=[mirrored.pk])).content.decode()
    assert 'id="mirrored-note"' in page and "Add member" not in page and "Delete group" not in page
    for name, data in (("manage:group-rename", {"name": "X"}), ("manage:group-member-add", {"username": "bob"}),
                       ("manage:group-delete", {})):
        response = boss_client.post(reverse(name, args=[mirrored.pk]), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 409 and b"group_mirrored" in response.content
    mirrored.refresh_from_db()
    assert mirrored.name == "Engineering" and not mirrored.members.exists()


def test_group_pages_and_changes_are_404_for_non_administrators(user_client, staff_group, bob):
    assert_portal_404(user_client.get(reverse("manage:group", args=[staff_group.pk])))
    assert_portal_404(user_client.post(reverse("manage:group-new"), {"name": "Mine"}))
    assert_portal_404(user_client.post(reverse("manage:group-member-add", args=[staff_group.pk]), {"username": "bob"}))
    assert_portal_404(user_client.post(reverse("manage:group-delete", args=[staff_group.pk])))
    assert Group.objects.filter(pk=staff_group.pk).exists() and not Group.objects.filter(name="Mine").exists()


def test_an_unknown_group_is_404(boss_client):
    assert boss_client.get(reverse("manage:group", args=[999999])).status_code == 404
