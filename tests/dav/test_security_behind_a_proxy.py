"""WebDAV behind a reverse proxy (PORTAL_TRUSTED_PROXY_COUNT=1): guessing a
user's token from one client address throttles that address only, so the
user's own WebDAV client (another address, same proxy) keeps working."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings

ATTACKER = "203.0.113.66"
ALICE_AT_HOME = "198.51.100.20"


@pytest.fixture
def behind_a_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


def _propfind(live_dav, auth, client_address: str) -> int:
    return requests.request("PROPFIND", live_dav.dav("/"), auth=auth, timeout=30,
                            headers={"Depth": "0", "X-Forwarded-For": client_address}).status_code


def test_guessing_behind_the_proxy_does_not_lock_out_the_users_own_client(live_dav, behind_a_proxy, alice_dav):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert _propfind(live_dav, ("alice", "coffer_wrong"), ATTACKER) in (401, 429)
    assert _propfind(live_dav, alice_dav.auth, ATTACKER) == 429
    assert _propfind(live_dav, alice_dav.auth, ALICE_AT_HOME) == 207
