"""Attacks on issue 15's new ways in (groups holding roles in spaces, shares
to colleagues and groups, SCIM, sign-in by OpenID Connect, invitations and
password resets, the /manage/ console, webhooks). Each test is one attack;
it passes when the defence holds."""

from __future__ import annotations

import io
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from portal.accounts.services import token_issue, user_disable
from portal.core.errors import Forbidden, InvalidInput, NotFound
from portal.files.selectors import node_at
from portal.files.services.direct import file_put
from portal.people.services import group_create, group_delete, group_member_add
from portal.shares.models import InternalShare
from portal.shares.services import internal_share_create
from portal.spaces.models import Membership, SpaceGroup
from portal.spaces.services import (
    member_add, member_change_role, member_remove, space_create, space_group_add, space_group_remove,
    space_group_role_set)

pytestmark = pytest.mark.django_db


def put(user, space, path: str, data: bytes = b"x"):
    return file_put(actor=user, space_id=space.pk, path=path, fileobj=io.BytesIO(data), size=len(data)).node


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def web_as(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def team(alice):
    return space_create(actor=alice, name="Team")


@pytest.fixture
def tree(alice, team):
    """/Secret/Project/a.txt and /Secret/Project/sub/b.txt, with /Secret/plan.txt beside the project."""
    ids = {path: put(alice, team, path, data).pk for path, data in {
        "/Secret/Project/a.txt": b"alpha", "/Secret/Project/sub/b.txt": b"bravo",
        "/Secret/plan.txt": b"not shared"}.items()}
    ids["/Secret/Project"] = node_at(team, ["Secret", "Project"])[0].pk
    ids["/Secret"] = node_at(team, ["Secret"])[0].pk
    return ids


@pytest.fixture
def shared(alice, bob, tree):
    """/Secret/Project shared with bob as editor."""
    return internal_share_create(actor=alice, node_id=tree["/Secret/Project"], user=bob, role="editor")


# --- a share reaching beyond its folder ----------------------------------------------------

@pytest.mark.parametrize("path", ["Secret/Project/../plan.txt", "Secret/Project/%2e%2e/plan.txt",
                                  "Secret/Project/..%2Fplan.txt", "Secret/plan.txt", "Secret", ""])
def test_a_recipient_cannot_climb_out_of_the_shared_folder_by_path(bob, team, shared, path):
    response = api_as(bob).get(f"/api/v1/spaces/{team.pk}/tree/{path}")
    assert response.status_code in (400, 404), response.content
    assert b"plan.txt" not in response.content


def test_a_recipient_reaches_no_space_wide_endpoint(bob, team, tree, shared):
    client = api_as(bob)
    for url in [f"/api/v1/spaces/{team.pk}/", f"/api/v1/spaces/{team.pk}/members/", f"/api/v1/spaces/{team.pk}/groups/",
                f"/api/v1/spaces/{team.pk}/trash", f"/api/v1/spaces/{team.pk}/share-policy",
                f"/api/v1/spaces/{team.pk}/zip/", f"/api/v1/spaces/{team.pk}/zip/Secret",
                f"/api/v1/files/{tree['/Secret']}", f"/api/v1/files/{tree['/Secret/plan.txt']}/content",
                f"/api/v1/files/{tree['/Secret/plan.txt']}/versions"]:
        assert client.get(url).status_code == 404, url
    web = web_as(bob)
    for url in [f"/spaces/{team.pk}/", f"/spaces/{team.pk}/activity/", f"/spaces/{team.pk}/trash/",
                f"/spaces/{team.pk}/settings/", f"/spaces/{team.pk}/folder-paths",
                f"/spaces/{team.pk}/items/{tree['/Secret/Project']}/activity",
                f"/spaces/{team.pk}/items/{tree['/Secret/plan.txt']}/view",
                f"/spaces/{team.pk}/items/{tree['/Secret/plan.txt']}/thumbnail",
                f"/shared/{tree['/Secret']}/"]:
        assert web.get(url).status_code == 404, url


def test_a_recipient_cannot_zip_the_shared_folder_from_the_folder_above(bob, team, tree, shared):
    web = web_as(bob)
    whole = web.get(f"/spaces/{team.pk}/zip", {"ids": [tree["/Secret/Project"]]})
    assert whole.status_code == 404
    mixed = web.get(f"/spaces/{team.pk}/zip", {"ids": [tree["/Secret/Project"], tree["/Secret/plan.txt"]]})
    assert mixed.status_code == 404
    inside = web.get(f"/spaces/{team.pk}/zip", {"ids": [tree["/Secret/Project/a.txt"]]})
    assert inside.status_code == 200


def test_a_recipient_neither_makes_links_nor_passes_the_share_on(bob, make_user, team, tree, shared):
    carol = make_user(username="carol")
    client = api_as(bob)
    for node in (tree["/Secret/Project"], tree["/Secret/Project/a.txt"]):
        link = client.post("/api/v1/shares", {"node": node, "permission": "download"}, format="json")
        assert link.status_code in (403, 404), link.content
        again = client.post(f"/api/v1/nodes/{node}/internal-shares", {"user": "carol", "role": "viewer"},
                            format="json")
        assert again.status_code in (403, 404), again.content
        assert client.get(f"/api/v1/nodes/{node}/internal-shares").status_code in (403, 404)
    # nor change, widen or end the share that was given to them
    assert client.patch(f"/api/v1/internal-shares/{shared.pk}", {"expires_at": None}, format="json").status_code == 404
    assert web_as(bob).post(f"/shared/people/{shared.pk}/remove").status_code == 404
    assert not InternalShare.objects.filter(user=carol).exists()


def test_a_recipient_cannot_restore_from_or_purge_the_spaces_trash(alice, bob, team, tree, shared):
    from portal.files.services.tree import node_trash

    node_trash(actor=alice, node_id=tree["/Secret/Project/sub/b.txt"])
    client = api_as(bob)
    assert client.post(f"/api/v1/trash/{tree['/Secret/Project/sub/b.txt']}/restore", {}, format="json").status_code == 404
    assert client.delete(f"/api/v1/trash/{tree['/Secret/Project/sub/b.txt']}").status_code == 404


def test_a_recipient_cannot_break_a_members_lock_in_the_shared_folder(alice, bob, team, tree, shared):
    a = tree["/Secret/Project/a.txt"]
    assert api_as(alice).post(f"/api/v1/files/{a}/lock", {}, format="json").status_code in (200, 201)
    broken = web_as(bob).post(f"/spaces/{team.pk}/items/{a}/break-lock")
    assert broken.status_code in (403, 404)
    assert api_as(bob).delete(f"/api/v1/files/{a}/lock").status_code in (403, 404, 409, 423)


def test_a_recipient_searches_nothing_of_the_space(bob, tree, shared):
    for q in ("plan", "a.txt", "Project", "Secret"):
        found = api_as(bob).get("/api/v1/search", {"q": q})
        assert found.status_code == 200 and b"plan.txt" not in found.content and b"Secret" not in found.content


# --- keeping access after it was taken away --------------------------------------------------

def _reaches(user, node_id) -> bool:
    return api_as(user).get(f"/api/v1/files/{node_id}/content").status_code == 200


def test_a_share_ends_when_its_group_is_deleted(alice, bob, tree):
    group = group_create(actor=None, name="Auditors")
    group_member_add(actor=None, group=group, user=bob)
    internal_share_create(actor=alice, node_id=tree["/Secret/Project"], group=group, role="viewer")
    assert _reaches(bob, tree["/Secret/Project/a.txt"])
    group_delete(actor=None, group=group)
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])


def test_a_share_ends_when_its_sharer_is_disabled_or_demoted(alice, bob, make_user, team, tree):
    sharer = make_user(username="sharer")
    member_add(actor=alice, space_id=team.pk, username="sharer", role="editor")
    internal_share_create(actor=sharer, node_id=tree["/Secret/Project"], user=bob, role="viewer")
    assert _reaches(bob, tree["/Secret/Project/a.txt"])
    member_change_role(actor=alice, space_id=team.pk, user_id=sharer.pk, role="viewer")
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])
    member_change_role(actor=alice, space_id=team.pk, user_id=sharer.pk, role="editor")
    user_disable(actor=None, user_id=sharer.pk)
    assert not _reaches(bob, tree["/Secret/Project/a.txt"])


def test_an_expired_share_opens_nothing_on_any_route(bob, team, tree, shared):
    InternalShare.objects.filter(pk=shared.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    a = tree["/Secret/Project/a.txt"]
    assert not _reaches(bob, a)
    web = web_as(bob)
    for url in [f"/shared/{tree['/Secret/Project']}/", f"/spaces/{team.pk}/items/{a}/view",
                f"/spaces/{team.pk}/items/{a}/view/bytes", f"/spaces/{team.pk}/items/{a}/thumbnail",
                f"/spaces/{team.pk}/items/{a}/"]:
        assert web.get(url).status_code == 404, url
    assert b"Project" not in web.get("/shared/").content


def test_a_share_to_a_disabled_recipient_is_not_used(bob, tree, shared):
    token = token_issue(actor=bob, owner=bob, name="script")[1]
    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.get(f"/api/v1/files/{tree['/Secret/Project/a.txt']}/content").status_code == 200
    user_disable(actor=None, user_id=bob.pk)
    assert bearer.get(f"/api/v1/files/{tree['/Secret/Project/a.txt']}/content").status_code in (401, 403)


def test_a_disabled_users_session_ends_at_once(alice, bob, team):
    member_add(actor=alice, space_id=team.pk, username="bob", role="viewer")
    web = web_as(bob)
    assert web.get(f"/spaces/{team.pk}/").status_code == 200
    user_disable(actor=None, user_id=bob.pk)
    after = web.get(f"/spaces/{team.pk}/")
    assert after.status_code == 302 and "login" in after["Location"]
    assert web.get("/api/v1/spaces/").status_code in (401, 403)


def test_taking_a_group_out_of_a_space_ends_its_members_access_at_once(alice, bob, team, tree):
    group = group_create(actor=None, name="Editors")
    group_member_add(actor=None, group=group, user=bob)
    space_group_add(actor=alice, space_id=team.pk, group_id=group.pk, role="editor")
    web = web_as(bob)
    assert web.get(f"/spaces/{team.pk}/").status_code == 200
    space_group_remove(actor=alice, space_id=team.pk, group_id=group.pk)
    assert web.get(f"/spaces/{team.pk}/").status_code == 404
    assert not _reaches(bob, tree["/Secret/plan.txt"])
    assert api_as(bob).get("/api/v1/spaces/").json()["results"] == [] or \
        team.pk not in [row["id"] for row in api_as(bob).get("/api/v1/spaces/").json()["results"]]


# --- escalation through groups in a space ----------------------------------------------------

@pytest.fixture
def group_manager(alice, make_user, team):
    """mallory, a manager of the team only through the group "Leads"."""
    mallory = make_user(username="mallory")
    leads = group_create(actor=None, name="Leads")
    group_member_add(actor=None, group=leads, user=mallory)
    space_group_add(actor=alice, space_id=team.pk, group_id=leads.pk, role="manager")
    return mallory, leads


def test_a_group_granted_manager_cannot_make_anyone_owner(alice, bob, team, group_manager):
    mallory, leads = group_manager
    with pytest.raises(Forbidden):
        space_group_role_set(actor=mallory, space_id=team.pk, group_id=leads.pk, role="owner")
    others = group_create(actor=None, name="Others")
    with pytest.raises(Forbidden):
        space_group_add(actor=mallory, space_id=team.pk, group_id=others.pk, role="owner")
    with pytest.raises(Forbidden):
        member_add(actor=mallory, space_id=team.pk, username="bob", role="owner")
    member_add(actor=mallory, space_id=team.pk, username="mallory", role="manager")  # their own row: still manager
    with pytest.raises(Forbidden):
        member_change_role(actor=mallory, space_id=team.pk, user_id=mallory.pk, role="owner")
    client = api_as(mallory)
    raised = client.patch(f"/api/v1/spaces/{team.pk}/groups/{leads.pk}/", {"role": "owner"}, format="json")
    assert raised.status_code == 403
    assert SpaceGroup.objects.get(space=team, group=leads).role == "manager"
    assert not Membership.objects.filter(space=team, role="owner").exclude(user=alice).exists()


def test_a_group_granted_manager_cannot_remove_or_demote_the_owner(alice, team, group_manager):
    mallory, _ = group_manager
    with pytest.raises(Forbidden):
        member_remove(actor=mallory, space_id=team.pk, user_id=alice.pk)
    with pytest.raises(Forbidden):
        member_change_role(actor=mallory, space_id=team.pk, user_id=alice.pk, role="viewer")
    owners = group_create(actor=None, name="Owners")
    space_group_add(actor=alice, space_id=team.pk, group_id=owners.pk, role="owner")
    with pytest.raises(Forbidden):
        space_group_remove(actor=mallory, space_id=team.pk, group_id=owners.pk)
    with pytest.raises(Forbidden):
        space_group_role_set(actor=mallory, space_id=team.pk, group_id=owners.pk, role="viewer")


def test_a_group_granted_manager_cannot_grow_their_group_through_the_api(alice, team, group_manager):
    mallory, leads = group_manager
    client = api_as(mallory)
    assert client.post(f"/api/v1/groups/", {"name": "Mine"}, format="json").status_code in (403, 404, 405)
    assert web_as(mallory).post(f"/manage/groups/{leads.pk}/members/add/", {"username": "bob"}).status_code == 404
    assert not leads.members.filter(username="bob").exists()


def test_a_manager_cannot_give_a_group_a_role_in_a_personal_space(alice, bob):
    from portal.spaces.models import Space, SpaceKind

    personal = Space.objects.filter(kind=SpaceKind.PERSONAL, memberships__user=alice).first()
    if personal is None:
        pytest.skip("no personal space for this user in this configuration")
    group = group_create(actor=None, name="Snoops")
    with pytest.raises((InvalidInput, Forbidden, NotFound)):
        space_group_add(actor=alice, space_id=personal.pk, group_id=group.pk, role="viewer")
