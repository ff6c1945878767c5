"""Behind a reverse proxy (PORTAL_TRUSTED_PROXY_COUNT=1) every request
reaches the portal from the proxy's own address; the sign-in throttle must
key on the client's address the proxy reports, as the audit log does.
Otherwise five wrong passwords from anywhere lock a user out for everyone,
in the browser (WebDAV: tests/dav/test_security_behind_a_proxy.py). Real requests against the live server (which
every request reaches from 127.0.0.1, like a proxy on the same machine)."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings

from tests.factories import PASSWORD
from tests.helpers import last_event

pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = "203.0.113.66"
ALICE_AT_HOME = "198.51.100.20"


@pytest.fixture
def behind_a_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1


def _sign_in(base: str, username: str, password: str, client_address: str) -> requests.Response:
    browser = requests.Session()
    browser.get(f"{base}/accounts/login/").raise_for_status()
    return browser.post(f"{base}/accounts/login/", allow_redirects=False,
                        data={"username": username, "password": password,
                              "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
                        headers={"Referer": f"{base}/accounts/login/",
                                 "X-Forwarded-For": client_address})


def test_an_attacker_behind_the_proxy_locks_alice_out_only_at_the_attackers_address(
        live_server, behind_a_proxy, alice):
    base = live_server.url
    answers = [_sign_in(base, "alice", "wrong password", ATTACKER).status_code
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert answers == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert _sign_in(base, "alice", PASSWORD, ATTACKER).status_code == 429
    assert last_event("auth.login_failed").ip == ATTACKER

    at_home = _sign_in(base, "alice", PASSWORD, ALICE_AT_HOME)
    assert at_home.status_code == 302, at_home.text
    assert last_event("auth.login").ip == ALICE_AT_HOME


def test_a_spoofed_forwarded_for_in_front_of_the_proxys_own_does_not_escape_the_lockout(
        live_server, behind_a_proxy, alice):
    base = live_server.url
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(base, "alice", "wrong password", ATTACKER)
    # The client wrote "198.51.100.20"; the proxy appended the address it saw.
    assert _sign_in(base, "alice", PASSWORD, f"{ALICE_AT_HOME}, {ATTACKER}").status_code == 429
