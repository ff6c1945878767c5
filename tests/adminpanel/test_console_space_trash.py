"""Console and space settings: moving a space to the trash, the list of
trashed spaces, restoring one; an owner deleting their space from its settings."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.spaces.models import Membership, Space, SpaceKind
from portal.spaces.services import space_create, space_trash
from tests.adminpanel.console_support import assert_portal_404, client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


def _row(page: str, name: str) -> str:
    return page.split(f'data-space="{name}"')[1].split("</tr>")[0]


def test_an_administrator_moves_a_space_to_the_trash_and_restores_it(boss_client, team):
    row = _row(boss_client.get(reverse("manage:spaces")).content.decode(), "Team")
    assert reverse("manage:space-trash", args=[team.pk]) in row and "data-confirm=" in row
    assert boss_client.post(reverse("manage:space-trash", args=[team.pk])).status_code == 303
    team.refresh_from_db()
    assert team.is_trashed
    assert 'data-space="Team"' not in boss_client.get(reverse("manage:spaces")).content.decode()
    trash = boss_client.get(reverse("manage:spaces"), {"show": "trash"}).content.decode()
    row = _row(trash, "Team")
    assert "boss" in row and reverse("manage:space-restore", args=[team.pk]) in row
    assert 'data-space="alice"' not in trash  # personal spaces are not in the trash
    response = boss_client.post(reverse("manage:space-restore", args=[team.pk]))
    assert response.status_code == 303 and response["Location"].endswith("?show=trash")
    team.refresh_from_db()
    assert not team.is_trashed
    assert AuditEvent.objects.filter(action=Action.SPACE_RESTORED, space=team).exists()
    assert "The trash holds no spaces." in boss_client.get(reverse("manage:spaces"), {"show": "trash"}).content.decode()


def test_the_trash_list_searches_by_name(boss_client, alice, team):
    other = space_create(actor=alice, name="Other")
    space_trash(actor=alice, space_id=team.pk)
    space_trash(actor=alice, space_id=other.pk)
    page = boss_client.get(reverse("manage:spaces"), {"show": "trash", "q": "oth"}).content.decode()
    assert 'data-space="Other"' in page and 'data-space="Team"' not in page


def test_trash_and_restore_are_404_for_non_administrators(alice, bob, team):
    owner = client_for(alice)  # an owner, but the console is for administrators
    assert_portal_404(owner.post(reverse("manage:space-trash", args=[team.pk])))
    assert_portal_404(client_for(bob).get(reverse("manage:spaces"), {"show": "trash"}))
    space_trash(actor=alice, space_id=team.pk)
    assert_portal_404(owner.post(reverse("manage:space-restore", args=[team.pk])))
    team.refresh_from_db()
    assert team.is_trashed


def test_bad_console_requests(boss_client, bob, team):
    personal = Space.objects.get(kind=SpaceKind.PERSONAL, created_by=bob)
    refused = boss_client.post(reverse("manage:space-trash", args=[personal.pk]), HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    assert boss_client.post(reverse("manage:space-trash", args=[999999])).status_code == 404
    assert boss_client.post(reverse("manage:space-restore", args=[team.pk])).status_code == 404  # not in the trash
    assert boss_client.get(reverse("manage:space-trash", args=[team.pk])).status_code == 405
    personal.refresh_from_db()
    team.refresh_from_db()
    assert not personal.is_trashed and not team.is_trashed


def test_an_owner_deletes_their_space_from_its_settings(alice, team):
    browser = client_for(alice)
    settings_url = reverse("web:space-settings", args=[team.pk])
    page = browser.get(settings_url).content.decode()
    assert 'id="space-delete"' in page and "data-confirm=" in page
    listed = 'href="/spaces/%d/' % team.pk
    assert listed in browser.get(reverse("web:spaces")).content.decode()
    response = browser.post(reverse("web:space-settings-change", args=[team.pk, "trash"]))
    assert response.status_code in (302, 303) and response["Location"] == reverse("web:spaces")
    team.refresh_from_db()
    assert team.is_trashed and team.deleted_by == alice
    assert browser.get(settings_url).status_code == 404
    assert listed not in browser.get(reverse("web:spaces")).content.decode()


def test_a_manager_sees_no_delete_button_and_is_refused(make_user, bob, team):
    manager = make_user(username="mona")
    Membership.objects.create(space=team, user=manager, role="manager")
    browser = client_for(manager)
    assert 'id="space-delete"' not in browser.get(reverse("web:space-settings", args=[team.pk])).content.decode()
    response = browser.post(reverse("web:space-settings-change", args=[team.pk, "trash"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    outsider = client_for(bob).post(reverse("web:space-settings-change", args=[team.pk, "trash"]))
    assert outsider.status_code == 404
    team.refresh_from_db()
    assert not team.is_trashed


def test_a_personal_space_has_no_delete_button(alice):
    personal = Space.objects.get(kind=SpaceKind.PERSONAL, created_by=alice)
    page = client_for(alice).get(reverse("web:space-settings", args=[personal.pk])).content.decode()
    assert 'id="space-delete"' not in page
