"""Quotas are per space, and any signed-in user may create team spaces: an
employee scripting ``POST /api/v1/spaces/`` got a fresh 10 GiB quota per call,
without limit. Now a user creates at most PORTAL_MAX_SPACES_PER_USER team
spaces (archived ones count: they keep their bytes), even with parallel
requests; administrators are not limited. Real requests to the live server
with a personal access token, as a script would send them."""

from __future__ import annotations

import pytest
import requests

from portal.accounts.services import token_issue
from portal.spaces.models import Space, SpaceKind
from portal.spaces.services import space_create, space_update
from tests.helpers import at_once

pytestmark = pytest.mark.django_db(transaction=True)
LIMIT = 3


@pytest.fixture
def limit(settings):
    settings.MAX_SPACES_PER_USER = LIMIT


def _client(user) -> requests.Session:
    _, token = token_issue(actor=user, owner=user, name="script")
    client = requests.Session()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _team_spaces(user) -> int:
    return Space.objects.filter(kind=SpaceKind.TEAM, created_by=user).count()


def test_a_script_creating_spaces_stops_at_the_limit(live_server, limit, alice):
    client = _client(alice)
    made = [client.post(f"{live_server.url}/api/v1/spaces/", json={"name": f"Stash {i}"}) for i in range(LIMIT + 2)]
    assert [answer.status_code for answer in made] == [201] * LIMIT + [403, 403]
    assert made[-1].json()["code"] == "space_limit" and made[-1].json()["detail"] == {"limit": LIMIT}
    assert _team_spaces(alice) == LIMIT


def test_archiving_a_space_does_not_free_a_place(live_server, limit, alice):
    spaces = [space_create(actor=alice, name=f"Old {i}") for i in range(LIMIT)]
    space_update(actor=alice, space_id=spaces[0].pk, archived=True)
    answer = _client(alice).post(f"{live_server.url}/api/v1/spaces/", json={"name": "New"})
    assert answer.status_code == 403 and answer.json()["code"] == "space_limit"


def test_parallel_creates_at_the_last_place_make_one_space(live_server, limit, alice):
    for i in range(LIMIT - 1):
        space_create(actor=alice, name=f"Team {i}")
    client = _client(alice)
    answers = at_once(*[lambda i=i: client.post(f"{live_server.url}/api/v1/spaces/", json={"name": f"Race {i}"})
                        for i in range(4)])
    assert sorted(answer.status_code for answer in answers) == [201, 403, 403, 403]
    assert _team_spaces(alice) == LIMIT


def test_the_web_form_refuses_past_the_limit_too(live_server, limit, alice, client):
    for i in range(LIMIT):
        space_create(actor=alice, name=f"Team {i}")
    client.force_login(alice)
    page = client.post("/spaces/new", {"name": "One more"})
    assert page.status_code == 403
    assert _team_spaces(alice) == LIMIT


def test_administrators_and_personal_spaces_are_not_limited(live_server, limit, alice, make_user):
    root = make_user(username="root", is_staff=True, is_superuser=True)
    client = _client(root)
    made = [client.post(f"{live_server.url}/api/v1/spaces/", json={"name": f"Dept {i}"}) for i in range(LIMIT + 1)]
    assert all(answer.status_code == 201 for answer in made)
    for i in range(LIMIT):
        space_create(actor=alice, name=f"Team {i}")
    assert Space.objects.filter(kind=SpaceKind.PERSONAL, created_by=alice).count() == 1
