"""Booleans are booleans: every boolean field of the API takes JSON true or
false only. "yes", "true", "1", 1 and "on" are refused with 400 naming the
field, over real HTTP against the live server, and change nothing."""

from __future__ import annotations

import pytest
import requests
from rest_framework import serializers
from rest_framework.test import APIClient

from portal.accounts.services import token_issue
from portal.api.serializers import StrictBooleanField
from portal.shares.models import ShareLink
from portal.spaces.models import Space
from portal.spaces.services import space_create
from tests.factories import UserFactory
from tests.files.conftest import Uploader

pytestmark = pytest.mark.django_db(transaction=True)

NOT_BOOLEANS = ["yes", "true", "True", "1", 1, 0, "on", "no", "false", ""]


def _all_serializers() -> set[type]:
    import portal.urls  # noqa: F401 - imports every API module, and so every serializer

    found, todo = set(), [serializers.Serializer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return {cls for cls in found if cls.__module__.startswith("portal.")}


def test_every_boolean_field_of_every_api_serializer_is_strict():
    loose = []
    for cls in _all_serializers():
        for name, field in cls._declared_fields.items():
            if isinstance(field, serializers.BooleanField) and not isinstance(field, StrictBooleanField):
                loose.append(f"{cls.__module__}.{cls.__name__}.{name}")
    assert loose == []
    assert any(isinstance(f, StrictBooleanField) for cls in _all_serializers() for f in cls._declared_fields.values())


@pytest.fixture
def portal(live_server):
    """alice's requests session (a personal access token), the live server's URL, her space."""
    alice = UserFactory(username="alice")
    _, secret = token_issue(actor=alice, owner=alice, name="script")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {secret}"
    session.alice, session.space = alice, space_create(actor=alice, name="Team")
    session.api = lambda path: f"{live_server.url}/api/v1{path}"
    yield session
    session.close()


def _refused(answer, field: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "invalid_input" and field in body["detail"] and field in body["message"]


@pytest.mark.parametrize("value", NOT_BOOLEANS)
def test_archiving_a_space_with_a_string_or_number_is_refused(portal, value):
    _refused(portal.patch(portal.api(f"/spaces/{portal.space.pk}/"), json={"archived": value}), "archived")
    assert Space.objects.get(pk=portal.space.pk).archived_at is None


def test_archiving_a_space_with_true_works(portal):
    answer = portal.patch(portal.api(f"/spaces/{portal.space.pk}/"), json={"archived": True})
    assert answer.status_code == 200 and answer.json()["archived"] is True


def test_share_link_switches_and_the_link_policy_take_only_json_booleans(portal):
    client = APIClient()
    client.force_authenticate(user=portal.alice)
    node = Uploader()(client, portal.space, "/a.txt", b"a\n")
    for value in ("yes", 1, "true"):
        _refused(portal.post(portal.api("/shares"), json={"node": node["id"], "permission": "download",
                                                          "notify_on_first_download": value}),
                 "notify_on_first_download")
    assert not ShareLink.objects.exists()
    link = portal.post(portal.api("/shares"), json={"node": node["id"], "permission": "download"}).json()
    for field in ("enabled", "manager_enabled", "notify_on_first_download"):
        _refused(portal.patch(portal.api(f"/shares/{link['id']}"), json={field: "no"}), field)
    row = ShareLink.objects.get(pk=link["id"])
    assert row.owner_enabled and row.manager_enabled
    assert portal.patch(portal.api(f"/shares/{link['id']}"), json={"enabled": False}).json()["enabled"] is False
    policy = portal.api(f"/spaces/{portal.space.pk}/share-policy")
    for field in ("allow_permanent", "require_password"):
        _refused(portal.patch(policy, json={field: "yes"}), field)
    assert portal.patch(policy, json={"require_password": True}).json()["require_password"] is True


def test_yes_no_query_parameters_take_1_0_true_false_and_refuse_anything_else(portal):
    portal.patch(portal.api(f"/spaces/{portal.space.pk}/"), json={"archived": True})
    for path, name in (("/spaces/", "include_archived"), ("/devices", "all"), ("/shares", "mine")):
        for value in ("yes", "on", "2", "maybe"):
            answer = portal.get(portal.api(path), params={name: value})
            assert answer.status_code == 400 and answer.json()["code"] == f"invalid_{name}", (path, value)
            assert answer.json()["detail"] == {"field": name}

    def listed(value: str) -> list[int]:
        answer = portal.get(portal.api("/spaces/"), params={"include_archived": value})
        return [space["id"] for space in answer.json()["results"]]

    assert portal.space.pk in listed("1") and portal.space.pk in listed("true")
    assert portal.space.pk not in listed("0") and portal.space.pk not in listed("false")
