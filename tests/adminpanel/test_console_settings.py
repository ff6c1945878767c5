"""Console, settings: who may create team spaces, enforced by space_create
and the My spaces page; the default quota of new team spaces."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.adminpanel.models import SiteSettings
from portal.adminpanel.services import site_settings_update
from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.core.errors import Forbidden, InvalidInput
from portal.people.services import group_create, group_member_add
from portal.spaces.models import Space
from portal.spaces.services import space_create
from tests.adminpanel.console_support import assert_portal_404

pytestmark = pytest.mark.django_db


@pytest.fixture
def creators(boss, alice):
    group = group_create(actor=boss, name="Creators")
    group_member_add(actor=boss, group=group, user=alice)
    return group


def test_everyone_creates_spaces_by_default(alice, user_client):
    assert space_create(actor=alice, name="Mine").quota_bytes == 10 * 1024**3
    assert "New team space" in user_client.get(reverse("web:spaces")).content.decode()


def test_administrators_only_refuses_everyone_else(boss_client, boss, alice, user_client):
    response = boss_client.post(reverse("manage:settings"), {"space_creation": "admins"})
    assert response.status_code == 303
    with pytest.raises(Forbidden) as refused:
        space_create(actor=alice, name="Mine")
    assert refused.value.code == "space_creation_restricted"
    assert space_create(actor=boss, name="Boss's").pk
    assert "New team space" not in user_client.get(reverse("web:spaces")).content.decode()
    response = user_client.post(reverse("web:space-new"), {"name": "Sneaky"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403 and not Space.objects.filter(name="Sneaky").exists()
    assert AuditEvent.objects.filter(action=Action.SITE_SETTINGS_CHANGED).count() == 1


def test_a_group_policy_lets_its_members_create_spaces(boss_client, creators, alice, bob):
    boss_client.post(reverse("manage:settings"), {"space_creation": "group", "group": str(creators.pk)})
    assert space_create(actor=alice, name="Allowed").pk
    with pytest.raises(Forbidden):
        space_create(actor=bob, name="Refused")
    creators.delete()  # a deleted group leaves administrators only, never everyone
    with pytest.raises(Forbidden):
        space_create(actor=alice, name="Later")


def test_the_default_quota_is_set_in_human_units(boss_client, alice):
    page = boss_client.get(reverse("manage:settings")).content.decode()
    assert "10 GB" in page
    boss_client.post(reverse("manage:settings"), {"space_creation": "everyone", "default_quota": "5 GiB"})
    assert SiteSettings.objects.get().default_team_quota == 5 * 1024**3
    assert space_create(actor=alice, name="Small").quota_bytes == 5 * 1024**3
    assert 'value="5 GB"' in boss_client.get(reverse("manage:settings")).content.decode()


@pytest.mark.parametrize("data,code", [
    ({"space_creation": "anyone"}, b"invalid_space_creation"),
    ({"space_creation": "group"}, b"group_required"),
    ({"space_creation": "everyone", "default_quota": "big"}, b"invalid_default_quota"),
])
def test_bad_settings_are_refused(boss_client, data, code):
    response = boss_client.post(reverse("manage:settings"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and code in response.content
    assert not SiteSettings.objects.exists()


def test_settings_are_404_for_non_administrators(user_client, alice):
    assert_portal_404(user_client.post(reverse("manage:settings"), {"space_creation": "everyone"}))
    with pytest.raises(Forbidden):
        site_settings_update(actor=alice, space_creation="everyone")
    assert not SiteSettings.objects.exists()


def test_the_service_needs_a_group_for_the_group_policy(boss):
    with pytest.raises(InvalidInput):
        site_settings_update(actor=boss, space_creation="group", group=None)
