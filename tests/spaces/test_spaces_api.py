import pytest
from django.conf import settings

from portal.spaces.models import Membership, Space, SpaceKind
from tests.helpers import assert_error, events, last_event

pytestmark = pytest.mark.django_db
URL = "/api/v1/spaces/"


def detail(space_id):
    return f"{URL}{space_id}/"




class TestListing:
    def test_a_new_user_sees_their_personal_space_with_role_quota_and_usage(self, api, alice):
        body = api.as_user(alice).get(URL).json()
        assert body["count"] == 1
        (space,) = body["results"]
        assert space["kind"] == "personal"
        assert space["name"] == "alice"
        assert space["role"] == "owner"
        assert space["quota"] == settings.DEFAULT_PERSONAL_QUOTA
        assert space["used"] == 0

    def test_the_list_holds_only_spaces_the_user_belongs_to(self, api, alice, bob, team):
        names = [s["name"] for s in api.as_user(bob).get(URL).json()["results"]]
        assert names == ["bob"]

    def test_the_list_is_paginated(self, api, alice):
        client = api.as_user(alice)
        for n in range(3):
            client.post(URL, {"name": f"S{n}"}, format="json")
        page = client.get(URL, {"page_size": 2}).json()
        assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]

    def test_signing_in_is_required(self, api):
        assert_error(api.get(URL), 401, "not_authenticated")


class TestCreate:
    def test_a_user_creates_a_team_space_and_becomes_its_owner(self, api, alice):
        response = api.as_user(alice).post(URL, {"name": "  Marketing "}, format="json", REMOTE_ADDR="10.9.8.7")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["name"] == "Marketing" and body["kind"] == "team" and body["role"] == "owner"
        assert body["quota"] == settings.DEFAULT_SPACE_QUOTA
        space = Space.objects.get(pk=body["id"])
        assert Membership.objects.get(space=space).user == alice
        event = last_event("space.created", space=space)
        assert event.actor == alice and event.ip == "10.9.8.7"

    def test_an_administrator_may_choose_the_quota(self, api, admin):
        body = api.as_user(admin).post(URL, {"name": "Big", "quota": 123}, format="json").json()
        assert body["quota"] == 123

    def test_a_user_may_not_choose_their_own_quota(self, api, alice):
        assert_error(api.as_user(alice).post(URL, {"name": "Big", "quota": 10**15}, format="json"), 403, "forbidden")
        assert not Space.objects.filter(name="Big").exists()

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101, "bad\x00name", "tab\there", "line\nbreak", 42, None])
    def test_bad_names_are_refused_and_nothing_is_created(self, api, alice, name):
        before = Space.objects.count()
        response = api.as_user(alice).post(URL, {"name": name}, format="json")
        assert_error(response, 400, "invalid_input")
        assert Space.objects.count() == before

    def test_a_duplicate_name_for_the_same_creator_is_refused_whatever_the_case(self, api, alice, team):
        body = assert_error(api.as_user(alice).post(URL, {"name": "FINANCE"}, format="json"), 409, "name_taken")
        assert "FINANCE" in body["message"]
        assert Space.objects.filter(name__iexact="finance").count() == 1

    def test_another_user_may_use_the_same_name(self, api, bob, team):
        assert api.as_user(bob).post(URL, {"name": "Finance"}, format="json").status_code == 201

    def test_unknown_fields_are_refused(self, api, alice):
        body = assert_error(api.as_user(alice).post(URL, {"name": "X", "owner": "bob"}, format="json"),
                            400, "invalid_input")
        assert "owner" in body["detail"]

    def test_malformed_json_is_a_clear_error(self, api, alice):
        response = api.as_user(alice).post(URL, b'{"name": ', content_type="application/json")
        body = assert_error(response, 400, "malformed_request")
        assert "JSON" in body["message"]

    def test_a_body_that_is_not_an_object_is_refused(self, api, alice):
        assert_error(api.as_user(alice).post(URL, ["x"], format="json"), 400, "invalid_input")


class TestDetail:
    def test_a_member_reads_the_space(self, api, alice, team):
        body = api.as_user(alice).get(detail(team.id)).json()
        assert body["id"] == team.id and body["role"] == "owner"

    def test_an_outsider_gets_the_same_404_as_for_a_missing_space(self, api, bob, team):
        client = api.as_user(bob)
        forbidden = client.get(detail(team.id))
        missing = client.get(detail(999999))
        assert forbidden.status_code == missing.status_code == 404
        assert forbidden.json() == missing.json()


class TestUpdate:
    def test_a_manager_renames_the_space(self, api, team, member_of):
        manager = member_of("manager")
        response = api.as_user(manager).patch(detail(team.id), {"name": "Finance EU"}, format="json")
        assert response.status_code == 200 and response.json()["name"] == "Finance EU"
        event = last_event("space.renamed", space=team)
        assert event.details == {"from": "Finance", "to": "Finance EU"} and event.actor == manager

    def test_an_editor_cannot_rename(self, api, team, member_of):
        assert_error(api.as_user(member_of("editor")).patch(detail(team.id), {"name": "X"}, format="json"),
                     403, "forbidden")
        team.refresh_from_db()
        assert team.name == "Finance"

    def test_an_outsider_cannot_even_learn_the_space_exists(self, api, bob, team):
        assert_error(api.as_user(bob).patch(detail(team.id), {"name": "X"}, format="json"), 404, "not_found")

    def test_a_personal_space_cannot_be_renamed(self, api, alice):
        personal = Space.objects.get(created_by=alice, kind=SpaceKind.PERSONAL)
        assert_error(api.as_user(alice).patch(detail(personal.id), {"name": "X"}, format="json"),
                     400, "invalid_input")

    def test_renaming_onto_another_of_the_creators_spaces_is_refused(self, api, alice, team):
        client = api.as_user(alice)
        client.post(URL, {"name": "Legal"}, format="json")
        assert_error(client.patch(detail(team.id), {"name": "legal"}, format="json"), 409, "name_taken")

    def test_the_owner_archives_and_unarchives(self, api, alice, team):
        client = api.as_user(alice)
        assert client.patch(detail(team.id), {"archived": True}, format="json").json()["archived"] is True
        assert team.id not in [s["id"] for s in client.get(URL).json()["results"]]
        assert team.id in [s["id"] for s in client.get(URL, {"include_archived": "1"}).json()["results"]]
        assert_error(client.patch(detail(team.id), {"name": "New"}, format="json"), 409, "archived")
        assert client.patch(detail(team.id), {"archived": False}, format="json").json()["archived"] is False
        assert [e.action for e in events("space.archived") + events("space.unarchived")] == \
            ["space.archived", "space.unarchived"]

    def test_a_manager_cannot_archive(self, api, team, member_of):
        assert_error(api.as_user(member_of("manager")).patch(detail(team.id), {"archived": True}, format="json"),
                     403, "forbidden")

    def test_an_administrator_changes_the_quota_and_it_is_audited(self, api, admin, team):
        response = api.as_user(admin).patch(detail(team.id), {"quota": 5000}, format="json")
        assert response.status_code == 200 and response.json()["quota"] == 5000
        assert last_event("space.quota_changed", space=team).details["to"] == 5000

    def test_an_owner_cannot_raise_their_own_quota(self, api, alice, team):
        assert_error(api.as_user(alice).patch(detail(team.id), {"quota": 10**15}, format="json"), 403, "forbidden")

    def test_a_refused_change_leaves_the_other_changes_undone(self, api, team, member_of):
        manager = member_of("manager")
        response = api.as_user(manager).patch(detail(team.id), {"name": "Renamed", "archived": True}, format="json")
        assert_error(response, 403, "forbidden")
        team.refresh_from_db()
        assert team.name == "Finance" and not events("space.renamed")

    @pytest.mark.parametrize("payload", [{"quota": -1}, {"quota": "lots"}, {"quota": 1.5}])
    def test_bad_quotas_are_refused(self, api, admin, team, payload):
        assert_error(api.as_user(admin).patch(detail(team.id), payload, format="json"), 400, "invalid_input")
        team.refresh_from_db()
        assert team.quota_bytes == settings.DEFAULT_SPACE_QUOTA

    @pytest.mark.parametrize("payload", [{"archived": "maybe"}, {"name": ""}, {"name": "a\u0007b"}, {"colour": "red"}])
    def test_bad_values_are_refused(self, api, alice, team, payload):
        assert_error(api.as_user(alice).patch(detail(team.id), payload, format="json"), 400, "invalid_input")
        team.refresh_from_db()
        assert team.name == "Finance" and not team.is_archived


class TestRetentionPolicy:
    def test_a_manager_sets_and_resets_version_retention(self, api, team, member_of):
        client = api.as_user(member_of("manager"))
        body = client.patch(detail(team.id), {"keep_versions": 5, "keep_version_days": 30}, format="json").json()
        assert (body["keep_versions"], body["keep_version_days"]) == (5, 30)
        assert last_event("space.policy_changed", space=team).details["keep_versions"] == {"from": None, "to": 5}
        body = client.patch(detail(team.id), {"keep_versions": None}, format="json").json()
        assert body["keep_versions"] is None and body["keep_version_days"] == 30

    def test_an_editor_cannot_change_retention(self, api, team, member_of):
        assert_error(api.as_user(member_of("editor")).patch(detail(team.id), {"keep_versions": 1}, format="json"),
                     403, "forbidden")
        team.refresh_from_db()
        assert team.keep_versions is None

    @pytest.mark.parametrize("payload", [{"keep_versions": 0}, {"keep_versions": "all"}, {"keep_version_days": -1}])
    def test_bad_retention_values_are_refused(self, api, alice, team, payload):
        assert_error(api.as_user(alice).patch(detail(team.id), payload, format="json"), 400, "invalid_input")
