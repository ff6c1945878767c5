"""Deleting a team space moves it to the trash: owners and administrators do
it, administrators alone restore it; meanwhile every way into the space
(API, downloads, share links, colleagues' shares, WebDAV, uploads under way)
answers as for a space that does not exist, and restoring brings it all back."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.core.errors import Forbidden, InvalidInput, NotFound
from portal.dav.provider import CofferProvider
from portal.dav.auth import USER_KEY
from portal.files.services.direct import file_put
from portal.shares.selectors import shared_with_me
from portal.shares.services import internal_share_create, share_link_create
from portal.spaces.models import Space, SpaceKind
from portal.spaces.selectors import spaces_visible_to
from portal.spaces.services import space_restore, space_trash

pytestmark = pytest.mark.django_db


def client(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user=user)
    return api


@pytest.fixture
def doc(alice, team):
    return file_put(actor=alice, space_id=team.pk, path="/plan.txt", fileobj=io.BytesIO(b"plan"), size=4).node


def test_an_owner_trashes_their_team_space_and_it_is_audited(alice, team):
    space_trash(actor=alice, space_id=team.pk)
    team.refresh_from_db()
    assert team.is_trashed and team.deleted_by == alice
    event = AuditEvent.objects.get(action=Action.SPACE_TRASHED)
    assert event.actor_id == alice.pk and event.space_id == team.pk


def test_a_manager_gets_403_and_an_outsider_404(team, member_of, bob):
    with pytest.raises(Forbidden):
        space_trash(actor=member_of("manager"), space_id=team.pk)
    with pytest.raises(NotFound):
        space_trash(actor=bob, space_id=team.pk)
    team.refresh_from_db()
    assert not team.is_trashed


def test_a_personal_space_cannot_be_trashed(alice, admin):
    personal = Space.objects.get(kind=SpaceKind.PERSONAL, created_by=alice)
    for actor in (alice, admin):
        with pytest.raises(InvalidInput):
            space_trash(actor=actor, space_id=personal.pk)
    personal.refresh_from_db()
    assert not personal.is_trashed


def test_trashing_twice_or_an_unknown_space_is_404(alice, team):
    space_trash(actor=alice, space_id=team.pk)
    for space_id in (team.pk, 999999, "x"):
        with pytest.raises(NotFound):
            space_trash(actor=alice, space_id=space_id)


def test_only_administrators_restore(alice, bob, admin, team):
    space_trash(actor=alice, space_id=team.pk)
    for actor in (alice, bob):
        with pytest.raises(NotFound):
            space_restore(actor=actor, space_id=team.pk)
    space_restore(actor=admin, space_id=team.pk)
    team.refresh_from_db()
    assert not team.is_trashed and team.deleted_by is None
    assert AuditEvent.objects.filter(action=Action.SPACE_RESTORED, actor=admin, space=team).exists()
    for space_id in (team.pk, 999999, "x"):  # not in the trash (any more), or nothing at all
        with pytest.raises(NotFound):
            space_restore(actor=admin, space_id=space_id)


def test_an_administrator_trashes_a_space_they_are_not_in(admin, team):
    space_trash(actor=admin, space_id=team.pk)
    team.refresh_from_db()
    assert team.is_trashed and team.deleted_by == admin


def _ways_in(alice, bob, admin, team, doc, token):
    """What each way into the space answers now."""
    dav_env = {USER_KEY: alice}
    return {
        "space detail": client(alice).get(f"/api/v1/spaces/{team.pk}/").status_code,
        "space detail (admin)": client(admin).get(f"/api/v1/spaces/{team.pk}/").status_code,
        "space list": team.pk in [s["id"] for s in client(alice).get("/api/v1/spaces/").json()["results"]],
        "visible": spaces_visible_to(alice).filter(pk=team.pk).exists(),
        "download": client(alice).get(f"/api/v1/files/{doc.pk}/content").status_code,
        "shared download": client(bob).get(f"/api/v1/files/{doc.pk}/content").status_code,
        "shared with me": [share.node_id for share in shared_with_me(bob)],
        "link page": Client().get(f"/s/{token}").status_code,
        "webdav": CofferProvider().access_for(dav_env, team.slug) is not None,
        "settings page": _web(alice).get(f"/spaces/{team.pk}/settings/").status_code,
    }


def _web(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def test_every_way_in_refuses_a_trashed_space_and_restore_brings_them_back(alice, bob, admin, team, doc):
    internal_share_create(actor=alice, node_id=doc.pk, user=bob, role="viewer")
    token = share_link_create(actor=alice, node_id=doc.pk, permission="download")[1]
    before = _ways_in(alice, bob, admin, team, doc, token)
    assert before == {"space detail": 200, "space detail (admin)": 200, "space list": True, "visible": True,
                      "download": 200, "shared download": 200, "shared with me": [doc.pk], "link page": 200,
                      "webdav": True, "settings page": 200}
    space_trash(actor=alice, space_id=team.pk)
    during = _ways_in(alice, bob, admin, team, doc, token)
    assert during["space detail"] == during["space detail (admin)"] == 404
    assert during["download"] == during["shared download"] == during["settings page"] == 404
    assert during["link page"] in (404, 410)
    assert not during["space list"] and not during["visible"] and not during["webdav"]
    assert during["shared with me"] == []
    space_restore(actor=admin, space_id=team.pk)
    assert _ways_in(alice, bob, admin, team, doc, token) == before


def test_an_upload_under_way_into_a_trashed_space_fails_at_complete(alice, admin, team):
    api = client(alice)
    started = api.post("/api/v1/uploads", {"space": team.pk, "path": "/late.txt", "size": 0}, format="json")
    assert started.status_code == 201, started.content
    space_trash(actor=alice, space_id=team.pk)
    done = api.post(f"/api/v1/uploads/{started.json()['id']}/complete")
    assert done.status_code == 404, done.content
    space_restore(actor=admin, space_id=team.pk)
    assert api.post(f"/api/v1/uploads/{started.json()['id']}/complete").status_code == 201
