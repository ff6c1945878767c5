"""A space in the trash is out of search for everyone; restored, it is back."""

from __future__ import annotations

import pytest

from portal.spaces.services import space_restore, space_trash

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
URL = "/api/v1/search"


def test_a_trashed_space_has_no_hits_and_refuses_its_filter(alice, bob, admin, team, put, signed_in):
    put(alice, team, "/budget.txt", b"forecast")
    for user in (alice, bob):
        assert signed_in(user).get(URL, {"q": "budget"}).json()["count"] == 1
    space_trash(actor=alice, space_id=team.pk)
    for user in (alice, bob):
        assert signed_in(user).get(URL, {"q": "budget"}).json()["count"] == 0
        assert signed_in(user).get(URL, {"q": "budget", "space": team.pk}).status_code == 404
    space_restore(actor=admin, space_id=team.pk)
    assert signed_in(bob).get(URL, {"q": "budget", "space": team.pk}).json()["count"] == 1
