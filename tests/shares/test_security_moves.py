"""A link follows its file: moved to another space, a file or folder takes
its links (and those of everything inside it) along, so the new space's
managers see and revoke them and its link policy governs them; a link that
policy forbids stops working, audited. Visitors ask the live portal."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from portal.audit.actions import Action
from portal.shares.models import ShareLink
from portal.shares.services import space_share_policy_update
from portal.spaces.models import Membership
from portal.spaces.services import space_create
from tests.helpers import last_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def archive(alice, make_user):
    """A second space of alice's, managed by bob, who is no member of the team space."""
    space = space_create(actor=alice, name="Archive")
    bob = make_user(username="bob")
    Membership.objects.create(space=space, user=bob, role="manager")
    return space, bob


def _move(client, node_id: int, space, path: str) -> None:
    answer = client.post(f"/api/v1/files/{node_id}/move", {"path": path, "space": space.pk}, format="json")
    assert answer.status_code == 200, answer.content


def _visit(live_server, link: dict) -> int:
    return requests.get(f"{live_server.url}/s/{link['token']}/download", timeout=30).status_code


def test_a_moved_files_link_belongs_to_the_new_space_whose_manager_can_revoke_it(
        live_server, signed_in, alice, team, member_of, archive, share, shared_file):
    space, bob = archive
    team_manager = member_of("manager")
    link = share(shared_file["id"])
    _move(signed_in(alice), shared_file["id"], space, "/q3.txt")
    assert ShareLink.objects.get(pk=link["id"]).space_id == space.pk
    moved = last_event(Action.SHARE_CHANGED, target_id=str(link["id"]))
    assert moved.space_id == space.pk and moved.details["from_space"] == team.pk
    assert _visit(live_server, link) == 200
    listed = signed_in(bob).get(f"/api/v1/shares?space={space.pk}").json()["results"]
    assert [item["id"] for item in listed] == [link["id"]]
    assert signed_in(team_manager).delete(f"/api/v1/shares/{link['id']}").status_code == 404
    assert signed_in(bob).delete(f"/api/v1/shares/{link['id']}").status_code == 204
    assert _visit(live_server, link) == 410


def test_a_link_the_new_spaces_policy_forbids_stops_working_and_the_revocation_is_audited(
        live_server, signed_in, alice, archive, share, shared_file):
    space, bob = archive
    space_share_policy_update(actor=bob, space_id=space.pk, changes={"require_password": True})
    link = share(shared_file["id"])
    assert _visit(live_server, link) == 200
    _move(signed_in(alice), shared_file["id"], space, "/q3.txt")
    assert _visit(live_server, link) == 410
    revoked = last_event(Action.SHARE_REVOKED, target_id=str(link["id"]))
    assert revoked.space_id == space.pk and revoked.details["policy"] == ["password_required"]
    assert revoked.actor == alice


def test_links_inside_a_moved_folder_follow_it_and_those_past_the_new_max_expiry_stop(
        live_server, signed_in, alice, archive, share, shared_folder):
    space, bob = archive
    space_share_policy_update(actor=bob, space_id=space.pk, changes={"max_days": 7})
    folder, _ = shared_folder
    inside = signed_in(alice).get(f"/api/v1/spaces/{folder.space_id}/tree/Project/sub/b.txt").json()
    soon = share(inside["id"], expires_at=(timezone.now() + timedelta(days=3)).isoformat())
    late = share(inside["id"], expires_at=(timezone.now() + timedelta(days=30)).isoformat())
    whole = share(folder.id, expires_at=(timezone.now() + timedelta(days=5)).isoformat())
    _move(signed_in(alice), folder.id, space, "/Project")
    assert {ShareLink.objects.get(pk=link["id"]).space_id for link in (soon, late, whole)} == {space.pk}
    assert _visit(live_server, soon) == 200
    assert _visit(live_server, late) == 410
    assert last_event(Action.SHARE_REVOKED, target_id=str(late["id"])).details["policy"] == ["expiry_too_far"]
    assert requests.get(f"{live_server.url}/s/{whole['token']}/zip", timeout=30).status_code == 200


def test_a_link_left_in_another_space_than_its_file_never_serves_it(live_server, archive, share, shared_file):
    space, _ = archive
    link = share(shared_file["id"])
    ShareLink.objects.filter(pk=link["id"]).update(space=space)  # as moves before this fix left them
    assert _visit(live_server, link) == 410


def test_a_link_whose_owner_is_no_member_of_the_new_space_stops_serving_after_the_move(
        live_server, signed_in, alice, member_of, archive, share, shared_file):
    space, _ = archive
    editor = member_of("editor")  # a member of the team space only
    link = share(shared_file["id"], as_user=editor)
    assert _visit(live_server, link) == 200
    _move(signed_in(alice), shared_file["id"], space, "/q3.txt")
    assert ShareLink.objects.get(pk=link["id"]).space_id == space.pk
    assert _visit(live_server, link) == 410
