"""WebDAV Basic auth failures are throttled like the portal's sign-in (per
username and client address, django-axes): past the limit that pair gets 429
with Retry-After, even with the right token, while the same user from another
address and other users keep working. Failures are audited as sign-in
failures are. Real HTTP against the live server, from two loopback addresses."""

from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter

from portal.spaces.models import Membership
from tests.dav.support import propfind
from tests.helpers import events

LIMIT = 3


class FromAddress(HTTPAdapter):
    """Connections from a chosen local address (127.0.0.2 is another client to the server)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(auth: tuple[str, str], address: str = "127.0.0.1") -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    session.auth = auth
    return session


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def test_guessing_a_users_token_over_webdav_is_throttled_for_that_address_only(live_dav, alice_dav, bob,
                                                                              dav_user_of, team):
    Membership.objects.create(space=team, user=bob, role="editor")
    url = live_dav.dav("/")
    guesser = client(("alice", "coffer_wrong-guess"))
    answers = [propfind(guesser, url, depth="0") for _ in range(LIMIT)]
    assert [a.status_code for a in answers] == [401] * (LIMIT - 1) + [429]  # the failure that reaches the limit

    throttled = propfind(guesser, url, depth="0")
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0 and "WWW-Authenticate" not in throttled.headers
    right_here = propfind(client(alice_dav.auth), url, depth="0")
    assert right_here.status_code == 429  # the right token from the throttled address waits too

    assert propfind(client(alice_dav.auth, "127.0.0.2"), url, depth="0").status_code == 207
    assert propfind(client(dav_user_of(bob).auth), url, depth="0").status_code == 207

    failed = events("auth.login_failed", actor_label="alice")
    assert len(failed) == LIMIT + 2
    assert [e.outcome for e in failed] == ["failure"] * (LIMIT - 1) + ["denied"] * 3  # as sign-in records them
    assert failed[-1].outcome == "denied" and failed[-1].details == {"throttled": True, "via": "webdav"}
    assert failed[0].ip == "127.0.0.1"
    assert events("auth.login_throttled", actor_label="alice")


def test_the_right_token_clears_the_failures_of_its_address(live_dav, alice_dav, team):
    url = live_dav.dav("/")
    guesser = client(("alice", "coffer_wrong-guess"))
    for _ in range(LIMIT - 1):
        assert propfind(guesser, url, depth="0").status_code == 401
    assert propfind(client(alice_dav.auth), url, depth="0").status_code == 207
    for _ in range(LIMIT - 1):
        assert propfind(guesser, url, depth="0").status_code == 401
    assert propfind(client(alice_dav.auth), url, depth="0").status_code == 207


def test_a_wrong_username_with_a_real_token_counts_as_a_failure(live_dav, alice_dav, bob, team):
    url = live_dav.dav("/")
    mixed = client(("bob", alice_dav.token))
    assert [propfind(mixed, url, depth="0").status_code for _ in range(LIMIT + 1)] == [401] * (LIMIT - 1) + [429, 429]
    assert propfind(client(alice_dav.auth), url, depth="0").status_code == 207
