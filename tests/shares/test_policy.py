"""Link policy: the deployment's defaults and limits, and a space's
tightening of them (never a loosening)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.audit.actions import Action
from tests.helpers import assert_error, last_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(signed_in, alice):
    return signed_in(alice)


@pytest.fixture
def manager(signed_in, member_of):
    return signed_in(member_of("manager", "maria"))


def policy_url(space) -> str:
    return f"/api/v1/spaces/{space.id}/share-policy"


def new_link(client, node_id, **options):
    return client.post("/api/v1/shares", {"node": node_id, "permission": "download", **options}, format="json")


def days_from_now(answer) -> float:
    return (parse_datetime(answer.json()["expires_at"]) - timezone.now()) / timedelta(days=1)


def test_members_read_the_policy_that_applies_and_outsiders_get_not_found(signed_in, member_of, bob, team):
    viewer = signed_in(member_of("viewer", "vera"))
    answer = viewer.get(policy_url(team))
    assert answer.status_code == 200
    assert answer.json() == {"default_days": 7, "max_days": 90, "allow_permanent": False,
                             "require_password": False, "password_min_length": 8}
    assert_error(signed_in(bob).get(policy_url(team)), 404, "not_found")


def test_the_deployments_default_expiry_applies_when_none_is_asked_for(settings, owner, shared_file):
    settings.SHARE_DEFAULT_DAYS = 3
    made = new_link(owner, shared_file["id"])
    assert made.status_code == 201 and 2.99 < days_from_now(made) <= 3


def test_the_deployment_can_allow_permanent_links(settings, owner, shared_file):
    assert_error(new_link(owner, shared_file["id"], expires_at=None), 400, "expiry_required")
    settings.SHARE_ALLOW_PERMANENT = True
    made = new_link(owner, shared_file["id"], expires_at=None)
    assert made.status_code == 201 and made.json()["expires_at"] is None


def test_the_deployment_can_require_a_password(settings, owner, shared_file):
    settings.SHARE_REQUIRE_PASSWORD = True
    assert_error(new_link(owner, shared_file["id"]), 400, "password_required")
    assert new_link(owner, shared_file["id"], password="correct horse battery").status_code == 201


def test_the_deployment_sets_the_minimum_password_length(settings, owner, shared_file):
    settings.SHARE_PASSWORD_MIN_LENGTH = 20
    error = assert_error(new_link(owner, shared_file["id"], password="correct horse battery"[:19]), 400,
                         "weak_password")
    assert any("20" in reason for reason in error["detail"]["reasons"])


def test_a_manager_tightens_the_spaces_policy_and_new_links_follow_it(manager, owner, team, shared_file):
    changed = manager.patch(policy_url(team), {"max_days": 10, "default_days": 5, "require_password": True},
                            format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["max_days"] == 10 and changed.json()["default_days"] == 5
    assert last_event(Action.SPACE_POLICY_CHANGED, space=team).actor.username == "maria"
    assert_error(new_link(owner, shared_file["id"]), 400, "password_required")
    made = new_link(owner, shared_file["id"], password="correct horse battery")
    assert made.status_code == 201 and 4.99 < days_from_now(made) <= 5
    too_far = (timezone.now() + timedelta(days=11)).isoformat()
    error = assert_error(new_link(owner, shared_file["id"], password="correct horse battery", expires_at=too_far),
                         400, "expiry_too_far")
    assert error["detail"] == {"max_days": 10}


def test_a_space_cannot_loosen_the_deployments_policy(settings, manager, owner, team, shared_file):
    settings.SHARE_REQUIRE_PASSWORD = True
    changed = manager.patch(policy_url(team), {"max_days": 3650, "default_days": 365, "allow_permanent": True,
                                               "require_password": False}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json() == {"default_days": 90, "max_days": 90, "allow_permanent": False,
                              "require_password": True, "password_min_length": 8}
    password = "correct horse battery"
    assert_error(new_link(owner, shared_file["id"]), 400, "password_required")
    assert_error(new_link(owner, shared_file["id"], password=password, expires_at=None), 400, "expiry_required")
    far = (timezone.now() + timedelta(days=100)).isoformat()
    assert_error(new_link(owner, shared_file["id"], password=password, expires_at=far), 400, "expiry_too_far")


def test_null_gives_a_setting_back_to_the_deployment(manager, team):
    manager.patch(policy_url(team), {"max_days": 10}, format="json")
    answer = manager.patch(policy_url(team), {"max_days": None}, format="json")
    assert answer.status_code == 200 and answer.json()["max_days"] == 90


def test_editors_cannot_change_the_policy_and_outsiders_get_not_found(signed_in, member_of, bob, team):
    editor = signed_in(member_of("editor", "eddie"))
    assert_error(editor.patch(policy_url(team), {"max_days": 10}, format="json"), 403, "forbidden")
    assert_error(signed_in(bob).patch(policy_url(team), {"max_days": 10}, format="json"), 404, "not_found")
    assert editor.get(policy_url(team)).json()["max_days"] == 90


@pytest.mark.parametrize(("changes", "code"), [
    ({"colour": "red"}, "invalid_input"),
    ({}, "no_changes"),
    ({"max_days": 0}, "invalid_input"),
    ({"max_days": "ten"}, "invalid_input"),
    ({"default_days": 20, "max_days": 10}, "invalid_policy"),
])
def test_bad_policy_changes_are_refused(manager, team, changes, code):
    assert_error(manager.patch(policy_url(team), changes, format="json"), 400, code)
    assert manager.get(policy_url(team)).json()["max_days"] == 90
