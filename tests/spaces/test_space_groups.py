"""Groups as space members: a group holds a role in a space, and each of its
members has the highest of their own role and their groups' roles there."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.core.errors import Conflict, Forbidden, NotFound
from portal.files.selectors import locate_path
from portal.files.services import direct
from portal.locks.models import Lock
from portal.locks.services import lock_acquire
from portal.people import services as people
from portal.people.models import GroupSource
from portal.spaces import services
from portal.spaces.models import Membership, SpaceGroup
from portal.spaces.selectors import can, role_of, space_access, spaces_visible_to
from portal.core.access import Cap
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(admin, bob):
    group = people.group_create(actor=admin, name="Sales")
    people.group_member_add(actor=admin, group=group, user=bob)
    return group


def groups_url(space):
    return f"/api/v1/spaces/{space.id}/groups/"


class TestEffectiveRole:
    def test_a_group_role_lets_its_members_into_the_space(self, alice, bob, team, sales):
        assert role_of(bob, team) is None
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        assert role_of(bob, team) == "editor"
        assert [s.actor_role for s in spaces_visible_to(bob) if s.pk == team.pk] == ["editor"]
        assert space_access(bob, team.pk, Cap.FILE_WRITE).role == "editor"

    def test_the_highest_of_own_and_group_roles_wins_both_ways(self, alice, bob, team, sales, make_user):
        Membership.objects.create(space=team, user=bob, role="viewer")
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="manager")
        assert role_of(bob, team) == "manager"
        services.space_group_role_set(actor=alice, space_id=team.pk, group_id=sales.pk, role="viewer")
        Membership.objects.filter(space=team, user=bob).update(role="editor")
        assert role_of(bob, team) == "editor"

    def test_of_two_groups_the_higher_role_counts(self, admin, alice, bob, team, sales):
        other = people.group_create(actor=admin, name="Auditors")
        people.group_member_add(actor=admin, group=other, user=bob)
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="viewer")
        services.space_group_add(actor=alice, space_id=team.pk, group_id=other.pk, role="editor")
        assert role_of(bob, team) == "editor"
        assert [s.pk for s in spaces_visible_to(bob)].count(team.pk) == 1  # listed once, not once per group

    def test_leaving_the_group_takes_the_access_away_at_once(self, admin, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        people.group_member_remove(actor=admin, group=sales, user=bob)
        assert role_of(bob, team) is None
        with pytest.raises(NotFound):
            space_access(bob, team.pk)
        assert not can(bob, Cap.SPACE_VIEW, team)

    def test_a_deleted_group_gives_nothing_any_more(self, admin, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        people.group_delete(actor=admin, group=sales)
        assert role_of(bob, team) is None and not SpaceGroup.objects.exists()

    def test_a_group_member_writes_files_and_sees_them_in_search_scope(self, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        version = direct.file_put(actor=bob, space_id=team.pk, path="/plan.txt", fileobj=io.BytesIO(b"plan"), size=4)
        assert version.node.space_id == team.pk
        assert locate_path(bob, team.pk, "/plan.txt").role == "editor"

    def test_the_role_is_read_in_the_space_lookup_query_itself(self, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="viewer")
        with CaptureQueriesContext(connection) as queries:
            space_access(bob, team.pk)
        assert len(queries) == 1


class TestLocksFollowTheRole:
    def test_losing_write_through_the_group_drops_the_members_locks(self, admin, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        doc = direct.file_put(actor=bob, space_id=team.pk, path="/doc.txt", fileobj=io.BytesIO(b"x"), size=1).node
        lock_acquire(actor=bob, node=doc)
        services.space_group_role_set(actor=alice, space_id=team.pk, group_id=sales.pk, role="viewer")
        assert not Lock.objects.filter(node=doc).exists()
        assert last_event("lock.broken").details["reason"] == "owner_lost_write_access"

    def test_a_lock_stays_when_the_member_still_writes_by_their_own_role(self, admin, alice, bob, team, sales):
        Membership.objects.create(space=team, user=bob, role="editor")
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        doc = direct.file_put(actor=bob, space_id=team.pk, path="/doc.txt", fileobj=io.BytesIO(b"x"), size=1).node
        lock_acquire(actor=bob, node=doc)
        services.space_group_remove(actor=alice, space_id=team.pk, group_id=sales.pk)
        people.group_member_remove(actor=admin, group=sales, user=bob)
        assert Lock.objects.filter(node=doc, owner=bob).exists()

    def test_leaving_the_group_drops_locks_where_the_member_can_no_longer_write(self, admin, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        doc = direct.file_put(actor=bob, space_id=team.pk, path="/doc.txt", fileobj=io.BytesIO(b"x"), size=1).node
        lock_acquire(actor=bob, node=doc)
        people.group_member_remove(actor=admin, group=sales, user=bob)
        assert not Lock.objects.filter(node=doc).exists()


class TestManagingGroupsInASpace:
    def test_a_manager_adds_a_group_and_it_is_audited(self, api, team, member_of, sales):
        manager = member_of("manager")
        response = api.as_user(manager).post(groups_url(team), {"group_id": sales.pk, "role": "editor"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["name"] == "Sales" and response.json()["role"] == "editor"
        event = last_event("space.group_added", space=team)
        assert event.actor == manager and event.details == {"group": "Sales", "group_id": sales.pk, "role": "editor"}
        listed = api.as_user(member_of("viewer")).get(groups_url(team)).json()["results"]
        assert [(g["name"], g["role"]) for g in listed] == [("Sales", "editor")]

    def test_an_outsider_gets_404_and_an_editor_403(self, api, team, member_of, sales, make_user):
        outsider = make_user(username="mallory")
        assert_error(api.as_user(outsider).get(groups_url(team)), 404, "not_found")
        assert_error(api.as_user(outsider).post(groups_url(team), {"group_id": sales.pk, "role": "owner"},
                                                format="json"), 404, "not_found")
        assert_error(api.as_user(member_of("editor")).post(groups_url(team), {"group_id": sales.pk, "role": "viewer"},
                                                           format="json"), 403, "forbidden")
        assert not SpaceGroup.objects.exists()

    def test_a_group_member_cannot_raise_their_own_group(self, api, alice, bob, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="manager")
        assert_error(api.as_user(bob).patch(f"{groups_url(team)}{sales.pk}/", {"role": "owner"}, format="json"),
                     403, "forbidden")
        assert SpaceGroup.objects.get().role == "manager"

    @pytest.mark.parametrize("payload,code", [
        ({"group_id": 999999, "role": "viewer"}, "unknown_group"),
        ({"group_id": "abc", "role": "viewer"}, "invalid_input"),
        ({"group_id": None, "role": "viewer"}, "invalid_input"),
        ({"role": "viewer"}, "invalid_input"),
    ])
    def test_bad_input_is_refused_and_nothing_is_added(self, api, alice, team, sales, payload, code):
        assert_error(api.as_user(alice).post(groups_url(team), payload, format="json"), 400, code)
        assert not SpaceGroup.objects.exists()

    def test_an_unknown_role_is_refused(self, api, alice, team, sales):
        assert_error(api.as_user(alice).post(groups_url(team), {"group_id": sales.pk, "role": "admin"}, format="json"),
                     400, "invalid_input")

    def test_a_group_is_added_once(self, alice, team, sales):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="viewer")
        with pytest.raises(Conflict):
            services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")

    def test_a_personal_space_takes_no_groups(self, alice, sales):
        personal = spaces_visible_to(alice).get(kind="personal")
        with pytest.raises(Exception) as caught:
            services.space_group_add(actor=alice, space_id=personal.pk, group_id=sales.pk, role="viewer")
        assert getattr(caught.value, "status", None) == 400

    def test_removing_the_group_leaves_the_members_own_roles(self, api, alice, bob, team, sales):
        Membership.objects.create(space=team, user=bob, role="viewer")
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="manager")
        assert api.as_user(alice).delete(f"{groups_url(team)}{sales.pk}/").status_code == 204
        assert role_of(bob, team) == "viewer"
        assert last_event("space.group_removed", space=team).details["group"] == "Sales"
        assert_error(api.as_user(alice).delete(f"{groups_url(team)}{sales.pk}/"), 404, "not_found")


class TestGroups:
    def test_only_administrators_manage_groups(self, alice, admin, bob):
        with pytest.raises(Forbidden):
            people.group_create(actor=alice, name="Sales")
        group = people.group_create(actor=admin, name="Sales")
        with pytest.raises(Forbidden):
            people.group_member_add(actor=alice, group=group, user=bob)

    def test_group_names_are_unique_ignoring_case(self, admin):
        people.group_create(actor=admin, name="Sales")
        with pytest.raises(Conflict):
            people.group_create(actor=admin, name="sales")

    def test_a_mirrored_group_is_found_again_by_its_external_id_and_renamed(self):
        group = people.group_ensure(actor=None, source=GroupSource.LDAP, external_id="cn=s,dc=x", name="Sales")
        again = people.group_ensure(actor=None, source=GroupSource.LDAP, external_id="cn=s,dc=x", name="Sales EU")
        assert again.pk == group.pk and again.name == "Sales EU"
        assert last_event("group.renamed").details == {"from": "Sales", "to": "Sales EU"}

    def test_a_mirrored_group_does_not_take_a_local_groups_name(self, admin):
        local = people.group_create(actor=admin, name="Sales")
        mirrored = people.group_ensure(actor=None, source=GroupSource.OIDC, external_id="sales", name="Sales")
        assert mirrored.pk != local.pk and mirrored.name == "Sales (oidc)"

    def test_a_users_groups_of_one_source_are_set_without_touching_others(self, admin, bob):
        local = people.group_create(actor=admin, name="Local")
        people.group_member_add(actor=admin, group=local, user=bob)
        a = people.group_ensure(actor=None, source=GroupSource.OIDC, external_id="a", name="A")
        b = people.group_ensure(actor=None, source=GroupSource.OIDC, external_id="b", name="B")
        assert people.user_groups_set(actor=None, user=bob, groups=[a, b], source=GroupSource.OIDC) == (2, 0)
        assert people.user_groups_set(actor=None, user=bob, groups=[b], source=GroupSource.OIDC) == (0, 1)
        assert set(bob.people_groups.values_list("name", flat=True)) == {"Local", "B"}

    def test_group_members_set_makes_the_membership_exact(self, admin, alice, bob, sales):
        assert people.group_members_set(actor=None, group=sales, user_ids=[alice.pk]) == (1, 1)
        assert list(sales.members.all()) == [alice]
        assert people.group_members_set(actor=None, group=sales, user_ids=[alice.pk]) == (0, 0)

    def test_the_groups_list_is_for_signed_in_users_only(self, api, alice, sales):
        assert api.get("/api/v1/groups/").status_code in (401, 403)
        listed = api.as_user(alice).get("/api/v1/groups/").json()["results"]
        assert listed == [{"id": sales.pk, "name": "Sales", "source": "local", "member_count": 1}]


class TestSettingsPage:
    def test_a_manager_adds_a_group_from_the_settings_page(self, client, alice, team, sales):
        client.force_login(alice)
        page = client.get(f"/spaces/{team.pk}/settings/")
        assert b'id="space-groups"' in page.content and b">Sales</option>" in page.content
        response = client.post(f"/spaces/{team.pk}/settings/group-add", {"group": sales.pk, "role": "editor"})
        assert response.status_code in (200, 302, 303)
        assert SpaceGroup.objects.get(space=team).role == "editor"
        client.post(f"/spaces/{team.pk}/settings/group-role", {"group": sales.pk, "role": "viewer"})
        assert SpaceGroup.objects.get(space=team).role == "viewer"
        client.post(f"/spaces/{team.pk}/settings/group-remove", {"group": sales.pk})
        assert not SpaceGroup.objects.exists()

    def test_a_viewer_sees_the_groups_but_no_forms(self, client, alice, team, sales, member_of):
        services.space_group_add(actor=alice, space_id=team.pk, group_id=sales.pk, role="editor")
        client.force_login(member_of("viewer"))
        page = client.get(f"/spaces/{team.pk}/settings/").content.decode()
        assert "Sales" in page and "group-add" not in page and "group-remove" not in page

    def test_an_outsider_posting_gets_not_found(self, client, team, sales, make_user):
        client.force_login(make_user(username="mallory"))
        response = client.post(f"/spaces/{team.pk}/settings/group-add", {"group": sales.pk, "role": "owner"})
        assert response.status_code == 404
        assert not SpaceGroup.objects.exists()
