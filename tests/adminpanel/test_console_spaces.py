"""Console, spaces: every space with usage, quota in human units, owners, archive."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.core.access import Role
from portal.spaces.models import Membership, Space
from portal.spaces.services import space_create
from tests.adminpanel.console_support import assert_portal_404, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


def test_the_space_list_shows_every_space_with_owners_and_quota(boss_client, team, bob):
    page = boss_client.get(reverse("manage:spaces")).content.decode()
    row = page.split('data-space="Team"')[1].split("</tr>")[0]
    assert "alice" in row and 'value="10 GB"' in row and "<progress" in row
    assert 'data-space="bob"' in page  # personal spaces too
    assert 'data-space="Team"' not in boss_client.get(reverse("manage:spaces"), {"q": "bob"}).content.decode()


def test_an_administrator_sets_a_quota_in_human_units(boss_client, team):
    response = boss_client.post(reverse("manage:space-quota", args=[team.pk]), {"quota": "5 GiB"})
    assert response.status_code == 303
    team.refresh_from_db()
    assert team.quota_bytes == 5 * 1024**3
    assert AuditEvent.objects.filter(action=Action.SPACE_QUOTA_CHANGED, space=team).exists()


@pytest.mark.parametrize("quota", ["", "5", "lots", "-1 GB"])
def test_a_bad_quota_is_refused(boss_client, team, quota):
    response = boss_client.post(reverse("manage:space-quota", args=[team.pk]), {"quota": quota}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and b"invalid_quota" in response.content
    team.refresh_from_db()
    assert team.quota_bytes == 10 * 1024**3


def test_an_administrator_who_is_not_a_member_makes_someone_an_owner(boss_client, team, bob):
    assert boss_client.post(reverse("manage:space-owner", args=[team.pk]), {"username": "bob"}).status_code == 303
    assert Membership.objects.get(space=team, user=bob).role == Role.OWNER
    Membership.objects.filter(space=team, user=bob).update(role=Role.VIEWER)
    boss_client.post(reverse("manage:space-owner", args=[team.pk]), {"username": "bob"})
    assert Membership.objects.get(space=team, user=bob).role == Role.OWNER
    assert AuditEvent.objects.filter(action=Action.MEMBER_ROLE_CHANGED, space=team).exists()


def test_making_an_unknown_user_or_a_personal_space_owner_is_refused(boss_client, team, bob):
    response = boss_client.post(reverse("manage:space-owner", args=[team.pk]), {"username": "ghost"},
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and b"unknown_user" in response.content
    personal = Space.objects.get(kind="personal", created_by=bob)
    response = boss_client.post(reverse("manage:space-owner", args=[personal.pk]), {"username": "alice"},
                                HTTP_HX_REQUEST="true")
    assert response.status_code == 400


def test_an_administrator_archives_and_unarchives_a_space(boss_client, team):
    assert boss_client.post(reverse("manage:space-archive", args=[team.pk])).status_code == 303
    team.refresh_from_db()
    assert team.is_archived
    assert "Unarchive" in boss_client.get(reverse("manage:spaces")).content.decode()
    assert boss_client.post(reverse("manage:space-unarchive", args=[team.pk])).status_code == 303
    team.refresh_from_db()
    assert not team.is_archived


def test_space_changes_are_404_for_non_administrators(bob, team):
    other = client_for(bob)
    assert_portal_404(other.post(reverse("manage:space-quota", args=[team.pk]), {"quota": "1 TB"}))
    assert_portal_404(other.post(reverse("manage:space-owner", args=[team.pk]), {"username": "bob"}))
    assert_portal_404(other.post(reverse("manage:space-archive", args=[team.pk])))
    team.refresh_from_db()
    assert team.quota_bytes == 10 * 1024**3 and not team.is_archived
    assert not Membership.objects.filter(space=team, user=bob).exists()


def test_an_unknown_space_is_404(boss_client):
    assert boss_client.post(reverse("manage:space-quota", args=[999999]), {"quota": "1 GB"}).status_code == 404
