"""SCIM Groups (RFC 7644 §3.3–3.6, the group PATCH examples of §3.5.2),
and the membership PATCHes Okta and Entra send."""

from __future__ import annotations

import pytest

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.people.models import Group, GroupMember, GroupSource
from portal.people.services import group_create
from tests.people.scim_support import BASE, GROUP, assert_error, scim  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def members_of(group_id) -> set[int]:
    return set(GroupMember.objects.filter(group_id=group_id).values_list("user_id", flat=True))


@pytest.fixture
def tour(scim, alice, bob):
    """RFC 7643's "Tour Guides" group with alice in it."""
    response = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Tour Guides", "externalId": "tg-1",
                                     "members": [{"value": str(alice.pk), "display": "alice"}]})
    assert response.status_code == 201, response.content
    return response.body


def test_create_a_group_with_members(tour, alice):
    group = Group.objects.get(pk=tour["id"])
    assert (group.name, group.source, group.external_id) == ("Tour Guides", GroupSource.SCIM, "tg-1")
    assert members_of(group.pk) == {alice.pk}
    assert tour["members"][0]["value"] == str(alice.pk) and tour["members"][0]["display"] == "alice"
    assert tour["meta"]["location"] == f"{BASE}/Groups/{group.pk}"
    event = AuditEvent.objects.get(action=Action.GROUP_CREATED, target_id=str(group.pk))
    assert event.actor_label == "scim:okta"


def test_get_one_group_and_leave_out_its_members(scim, tour):
    full = scim.get(f"/Groups/{tour['id']}")
    bare = scim.get(f"/Groups/{tour['id']}", query={"excludedAttributes": "members"})
    assert full.status_code == 200 and len(full.body["members"]) == 1
    assert "members" not in bare.body and bare.body["displayName"] == "Tour Guides"


def test_filter_groups_by_display_name(scim, tour):
    response = scim.get("/Groups", query={"filter": 'displayName eq "tour guides"', "excludedAttributes": "members"})
    assert response.body["totalResults"] == 1
    assert response.body["Resources"][0]["id"] == tour["id"] and "members" not in response.body["Resources"][0]


def test_entra_asks_whether_a_user_is_a_member(scim, tour, alice, bob):
    def ask(user):
        return scim.get("/Groups", query={"filter": f'id eq "{tour["id"]}" and members[value eq "{user.pk}"]',
                                          "excludedAttributes": "members"}).body["totalResults"]
    assert (ask(alice), ask(bob)) == (1, 0)


def test_groups_made_in_the_portal_are_not_the_providers(scim, admin):
    local = group_create(actor=admin, name="Finance")
    assert scim.get("/Groups").body["totalResults"] == 0
    assert_error(scim.get(f"/Groups/{local.pk}"), 404)
    assert_error(scim.delete(f"/Groups/{local.pk}"), 404)
    assert Group.objects.filter(pk=local.pk).exists()


def test_rfc_3_5_2_1_add_a_member(scim, tour, bob):
    response = scim.patch(f"/Groups/{tour['id']}", [{"op": "add", "path": "members", "value": [
        {"display": "Babs Jensen", "$ref": f"{BASE}/Users/{bob.pk}", "value": str(bob.pk)}]}])
    assert response.status_code == 200, response.content
    assert bob.pk in members_of(tour["id"])
    assert AuditEvent.objects.get(action=Action.GROUP_MEMBER_ADDED, target_id=str(bob.pk)).actor_label == "scim:okta"


def test_rfc_3_5_2_2_remove_one_member_then_all(scim, tour, alice, bob):
    scim.patch(f"/Groups/{tour['id']}", [{"op": "add", "path": "members", "value": [{"value": str(bob.pk)}]}])
    response = scim.patch(f"/Groups/{tour['id']}", [
        {"op": "remove", "path": f'members[value eq "{alice.pk}"]'}])
    assert response.status_code == 200 and members_of(tour["id"]) == {bob.pk}
    assert scim.patch(f"/Groups/{tour['id']}", [{"op": "remove", "path": "members"}]).status_code == 200
    assert members_of(tour["id"]) == set()


def test_rfc_3_5_2_2_remove_and_add_in_one_request(scim, tour, alice, bob):
    response = scim.patch(f"/Groups/{tour['id']}", [
        {"op": "remove", "path": f'members[value eq"{alice.pk}"]'},  # the RFC's own spacing
        {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": str(bob.pk)}]}])
    assert response.status_code == 200, response.content
    assert members_of(tour["id"]) == {bob.pk}


def test_rfc_3_5_2_3_replace_all_members(scim, tour, alice, bob, make_user):
    carol = make_user(username="carol")
    response = scim.patch(f"/Groups/{tour['id']}", [{"op": "replace", "path": "members", "value": [
        {"value": str(bob.pk)}, {"value": str(carol.pk)}]}])
    assert response.status_code == 200
    assert members_of(tour["id"]) == {bob.pk, carol.pk}


def test_okta_renames_with_a_pathless_replace_and_removes_by_filter(scim, tour, alice):
    response = scim.patch(f"/Groups/{tour['id']}", [
        {"op": "replace", "value": {"id": tour["id"], "displayName": "Guides"}}])
    assert response.status_code == 200 and Group.objects.get(pk=tour["id"]).name == "Guides"
    scim.patch(f"/Groups/{tour['id']}", [{"op": "remove", "path": f'members[value eq "{alice.pk}"]'}])
    assert members_of(tour["id"]) == set()


def test_entra_adds_and_removes_members_with_value_lists(scim, tour, alice, bob):
    added = scim.patch(f"/Groups/{tour['id']}", [{"op": "Add", "path": "members", "value": [{"value": str(bob.pk)}]}])
    assert added.status_code == 200 and members_of(tour["id"]) == {alice.pk, bob.pk}
    removed = scim.patch(f"/Groups/{tour['id']}", [
        {"op": "Remove", "path": "members", "value": [{"value": str(alice.pk)}]},
        {"op": "Replace", "path": "displayName", "value": "Tour Guides EU"}])
    assert removed.status_code == 200 and members_of(tour["id"]) == {bob.pk}
    assert Group.objects.get(pk=tour["id"]).name == "Tour Guides EU"


def test_put_replaces_name_and_members(scim, tour, alice, bob):
    response = scim.put(f"/Groups/{tour['id']}", {"schemas": [GROUP], "displayName": "Guides",
                                                  "members": [{"value": str(bob.pk)}]})
    assert response.status_code == 200
    assert Group.objects.get(pk=tour["id"]).name == "Guides" and members_of(tour["id"]) == {bob.pk}


def test_rfc_3_6_delete_a_group(scim, tour):
    response = scim.delete(f"/Groups/{tour['id']}")
    assert response.status_code == 204
    assert not Group.objects.filter(pk=tour["id"]).exists()
    assert_error(scim.get(f"/Groups/{tour['id']}"), 404)


# --- Not found and bad input --------------------------------------------------------

def test_a_group_that_does_not_exist_is_a_scim_404(scim):
    assert_error(scim.get("/Groups/424242"), 404)
    assert_error(scim.patch("/Groups/424242", [{"op": "remove", "path": "members"}]), 404)
    assert_error(scim.put("/Groups/424242", {"displayName": "x"}), 404)


def test_a_taken_name_or_external_id_is_409(scim, tour, admin):
    group_create(actor=admin, name="Finance")
    assert_error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "finance"}), 409, "uniqueness")
    assert_error(scim.post("/Groups", {"schemas": [GROUP], "displayName": "Other", "externalId": "tg-1"}),
                 409, "uniqueness")
    assert_error(scim.patch(f"/Groups/{tour['id']}", [{"op": "replace", "path": "displayName",
                                                        "value": "Finance"}]), 409, "uniqueness")


@pytest.mark.parametrize("body, scim_type", [
    ({"schemas": [GROUP]}, "invalidValue"),
    ({"schemas": [GROUP], "displayName": "   "}, "invalidValue"),
    ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "displayName": "x"}, "invalidSyntax"),
    ({"schemas": [GROUP], "displayName": "x", "members": [{"value": "999999"}]}, "invalidValue"),
    ({"schemas": [GROUP], "displayName": "x", "members": [{"value": "abc"}]}, "invalidValue"),
    ({"schemas": [GROUP], "displayName": "x", "members": "alice"}, "invalidValue"),
])
def test_bad_group_bodies_are_400(scim, body, scim_type):
    assert_error(scim.post("/Groups", body), 400, scim_type)
    assert not Group.objects.filter(name="x").exists()


def test_adding_an_unknown_user_changes_nothing(scim, tour, alice):
    response = scim.patch(f"/Groups/{tour['id']}", [{"op": "add", "path": "members", "value": [{"value": "999999"}]}])
    assert_error(response, 400, "invalidValue")
    assert members_of(tour["id"]) == {alice.pk}


def test_listing_groups_and_users_costs_the_same_for_ten_as_for_one(scim, make_user, django_assert_max_num_queries):
    people = [make_user(username=f"m{n}") for n in range(10)]
    for n in range(10):
        assert scim.post("/Groups", {"schemas": [GROUP], "displayName": f"G{n}",
                                     "members": [{"value": str(p.pk)} for p in people[:n + 1]]}).status_code == 201
    with django_assert_max_num_queries(8):
        listed = scim.get("/Groups")
    assert listed.body["totalResults"] == 10 and len(listed.body["Resources"][9]["members"]) == 10
    with django_assert_max_num_queries(8):
        users = scim.get("/Users")
    assert users.body["totalResults"] == 11
    assert len(next(u for u in users.body["Resources"] if u["userName"] == "m0")["groups"]) == 10
