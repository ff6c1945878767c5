import pytest

from portal.spaces.models import Membership, Space, SpaceKind
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


def members_url(space):
    return f"/api/v1/spaces/{space.id}/members/"


def member_url(space, user):
    return f"{members_url(space)}{user.id}/"


def role_in(space, user):
    return Membership.objects.filter(space=space, user=user).values_list("role", flat=True).first()


class TestAdd:
    def test_a_manager_adds_an_editor(self, api, team, member_of, bob):
        manager = member_of("manager")
        response = api.as_user(manager).post(members_url(team), {"username": "bob", "role": "editor"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["username"] == "bob" and response.json()["role"] == "editor"
        assert role_in(team, bob) == "editor"
        event = last_event("member.added", space=team)
        assert event.actor == manager and event.target_id == str(bob.id) and event.details == {"role": "editor"}

    def test_members_are_listed_for_every_member(self, api, team, member_of):
        viewer = member_of("viewer")
        names = [m["username"] for m in api.as_user(viewer).get(members_url(team)).json()["results"]]
        assert "alice" in names and viewer.username in names

    def test_an_outsider_gets_404_for_listing_and_adding(self, api, team, bob):
        client = api.as_user(bob)
        assert_error(client.get(members_url(team)), 404, "not_found")
        assert_error(client.post(members_url(team), {"username": "bob", "role": "owner"}, format="json"),
                     404, "not_found")
        assert role_in(team, bob) is None

    def test_editors_cannot_add_members(self, api, team, member_of, bob):
        assert_error(api.as_user(member_of("editor")).post(members_url(team), {"username": "bob", "role": "viewer"},
                                                           format="json"), 403, "forbidden")

    def test_only_owners_can_add_owners(self, api, alice, team, member_of, bob):
        manager = member_of("manager")
        assert_error(api.as_user(manager).post(members_url(team), {"username": "bob", "role": "owner"},
                                               format="json"), 403, "forbidden")
        assert api.as_user(alice).post(members_url(team), {"username": "bob", "role": "owner"},
                                       format="json").status_code == 201

    @pytest.mark.parametrize("payload,code", [
        ({"username": "bob", "role": "admin"}, "invalid_input"),
        ({"username": "nobody", "role": "viewer"}, "unknown_user"),
        ({"username": "", "role": "viewer"}, "invalid_input"),
        ({"role": "viewer"}, "invalid_input"),
        ({"username": "bob", "role": "viewer", "extra": 1}, "invalid_input"),
    ])
    def test_bad_input_is_refused_and_changes_nothing(self, api, alice, team, bob, payload, code):
        assert_error(api.as_user(alice).post(members_url(team), payload, format="json"), 400, code)
        assert role_in(team, bob) is None

    def test_adding_a_member_twice_is_a_conflict(self, api, alice, team, bob):
        client = api.as_user(alice)
        client.post(members_url(team), {"username": "bob", "role": "viewer"}, format="json")
        assert_error(client.post(members_url(team), {"username": "bob", "role": "editor"}, format="json"),
                     409, "already_member")
        assert role_in(team, bob) == "viewer"

    def test_a_personal_space_takes_no_other_members(self, api, alice, bob):
        personal = Space.objects.get(created_by=alice, kind=SpaceKind.PERSONAL)
        assert_error(api.as_user(alice).post(members_url(personal), {"username": "bob", "role": "viewer"},
                                             format="json"), 400, "invalid_input")


class TestChangeRole:
    def test_a_manager_promotes_a_viewer_to_editor(self, api, team, member_of):
        manager, viewer = member_of("manager"), member_of("viewer")
        response = api.as_user(manager).patch(member_url(team, viewer), {"role": "editor"}, format="json")
        assert response.status_code == 200 and role_in(team, viewer) == "editor"
        assert last_event("member.role_changed", space=team).details == {"from": "viewer", "to": "editor"}

    def test_the_last_owner_cannot_be_demoted(self, api, alice, team):
        body = assert_error(api.as_user(alice).patch(member_url(team, alice), {"role": "manager"}, format="json"),
                            409, "last_owner")
        assert "last owner" in body["message"]
        assert role_in(team, alice) == "owner"

    def test_an_owner_can_step_down_once_there_is_another_owner(self, api, alice, team, member_of):
        member_of("owner")
        assert api.as_user(alice).patch(member_url(team, alice), {"role": "manager"}, format="json").status_code == 200
        assert role_in(team, alice) == "manager"

    def test_a_manager_cannot_demote_an_owner(self, api, alice, team, member_of):
        member_of("owner")
        assert_error(api.as_user(member_of("manager")).patch(member_url(team, alice), {"role": "viewer"},
                                                             format="json"), 403, "forbidden")

    def test_changing_a_non_member_is_404_and_an_unknown_role_is_400(self, api, alice, team, bob):
        client = api.as_user(alice)
        assert_error(client.patch(member_url(team, bob), {"role": "viewer"}, format="json"), 404, "not_found")
        assert_error(client.patch(member_url(team, alice), {"role": "god"}, format="json"), 400, "invalid_input")

    def test_an_outsider_gets_404(self, api, alice, team, bob):
        assert_error(api.as_user(bob).patch(member_url(team, alice), {"role": "viewer"}, format="json"),
                     404, "not_found")


class TestRemove:
    def test_a_manager_removes_an_editor(self, api, team, member_of):
        manager, editor = member_of("manager"), member_of("editor")
        assert api.as_user(manager).delete(member_url(team, editor)).status_code == 204
        assert role_in(team, editor) is None
        assert last_event("member.removed", space=team).details == {"role": "editor", "left": False}

    def test_a_viewer_may_leave_but_not_remove_others(self, api, team, member_of):
        viewer, editor = member_of("viewer"), member_of("editor")
        client = api.as_user(viewer)
        assert_error(client.delete(member_url(team, editor)), 403, "forbidden")
        assert client.delete(member_url(team, viewer)).status_code == 204
        assert last_event("member.removed", space=team).details["left"] is True

    def test_the_last_owner_cannot_leave(self, api, alice, team):
        assert_error(api.as_user(alice).delete(member_url(team, alice)), 409, "last_owner")
        assert role_in(team, alice) == "owner"

    def test_a_manager_cannot_remove_an_owner(self, api, alice, team, member_of):
        member_of("owner")
        assert_error(api.as_user(member_of("manager")).delete(member_url(team, alice)), 403, "forbidden")
        assert role_in(team, alice) == "owner"

    def test_an_outsider_gets_404(self, api, alice, team, bob):
        assert_error(api.as_user(bob).delete(member_url(team, alice)), 404, "not_found")
