"""A session that gave only the password while a second factor is required
is not signed in: over real HTTP against the live server it reaches no API
endpoint, no administrator setting and no ``internal`` link; only sign-in,
enrollment and sign-out. The same user after the second factor works."""

from __future__ import annotations

import re

import pytest
import requests
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from portal.spaces.services import space_create
from tests.factories import UserFactory
from tests.files.conftest import Uploader
from tests.web.live import password_sign_in, totp_code

pytestmark = pytest.mark.django_db(transaction=True)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
RETENTION = {"keep_last": 1, "keep_hourly": 2, "keep_daily": 3, "keep_weekly": 4, "keep_monthly": 5}


def _signed_in_with_password(base: str, username: str) -> requests.Session:
    """A browser that gave the right password at the sign-in form, nothing more."""
    browser, answer = password_sign_in(base, username)
    assert answer.headers["Location"] != "/accounts/login/verify/"  # signed in, owing enrollment
    return browser


def _enroll(base: str, browser: requests.Session, user) -> None:
    """The second factor: enroll an authenticator and prove it with a code."""
    assert browser.get(f"{base}/account/two-factor/").status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    answer = browser.post(f"{base}/account/two-factor/", allow_redirects=False,
                          data={"code": totp_code(device), "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
    assert answer.status_code == 302, answer.text
    browser.headers["X-CSRFToken"] = browser.cookies["csrftoken"]


def _api_paths() -> list[str]:
    """Every route under /api/v1/, from the URL resolver, with 1 for each argument."""
    paths: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and prefix.startswith("api/v1/"):
                assert entry.name, f"an unnamed API route: {prefix}{entry.pattern}"
                names = entry.pattern.regex.groupindex
                paths.append(reverse(entry.name, kwargs={name: 1 for name in names}))

    walk(get_resolver().url_patterns, "")
    return paths


@pytest.fixture
def require_2fa(settings):
    settings.REQUIRE_2FA = "all"


@pytest.fixture
def admin(require_2fa):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def test_the_enumeration_finds_every_api_route():
    paths = _api_paths()
    assert len(paths) >= 30
    assert "/api/v1/backup/retention" in paths and "/api/v1/spaces/" in paths and "/api/v1/tokens/" in paths


def test_a_password_only_session_cannot_change_the_default_retention(live_server, admin):
    browser = _signed_in_with_password(live_server.url, "root")
    answer = browser.put(f"{live_server.url}/api/v1/backup/retention", json=RETENTION)
    assert answer.status_code == 403 and answer.json()["code"] == "two_factor_required"
    assert browser.get(f"{live_server.url}/api/v1/backup/retention").status_code == 403

    _enroll(live_server.url, browser, admin)
    done = browser.put(f"{live_server.url}/api/v1/backup/retention", json=RETENTION)
    assert done.status_code == 200, done.text
    assert {k: done.json()[k] for k in RETENTION} == RETENTION


def test_a_password_only_session_reaches_no_api_endpoint_an_anonymous_visitor_cannot(live_server, admin):
    browser = _signed_in_with_password(live_server.url, "root")
    anonymous = requests.Session()
    anonymous.get(f"{live_server.url}/accounts/login/")
    anonymous.headers.update({"X-CSRFToken": anonymous.cookies["csrftoken"], "Referer": f"{live_server.url}/"})
    reached = []
    for path in _api_paths():
        for method in METHODS:
            half = browser.request(method, f"{live_server.url}{path}", json={}, allow_redirects=False)
            if half.status_code == 403 and half.json()["code"] == "two_factor_required":
                continue
            nobody = anonymous.request(method, f"{live_server.url}{path}", json={}, allow_redirects=False)
            if half.status_code != nobody.status_code or half.status_code < 400:
                reached.append((method, path, half.status_code, nobody.status_code))
    assert reached == []


def test_a_password_only_session_opens_an_internal_link_as_a_signed_out_visitor(live_server, admin):
    alice = UserFactory(username="alice")
    team = space_create(actor=alice, name="Team")
    owner = APIClient()
    owner.force_authenticate(user=alice)
    node = Uploader()(owner, team, "/plan.txt", b"internal plan\n")
    link = owner.post("/api/v1/shares", {"node": node["id"], "permission": "download", "audience": "internal"},
                      format="json").json()
    url = f"{live_server.url}/s/{link['token']}"

    browser = _signed_in_with_password(live_server.url, "root")
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/accounts/login/?next=")
    assert browser.get(f"{url}/download", allow_redirects=False).status_code == 403

    _enroll(live_server.url, browser, admin)
    assert browser.get(url, allow_redirects=False).status_code == 200
    assert browser.get(f"{url}/download").content == b"internal plan\n"


def test_a_password_only_session_cannot_turn_off_an_authenticator_or_issue_tokens(live_server, settings, alice):
    settings.REQUIRE_2FA = "off"
    browser = _signed_in_with_password(live_server.url, "alice")  # an older session, from before enrollment
    TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    off = browser.post(f"{live_server.url}/account/two-factor/off", allow_redirects=False)
    assert off.status_code == 302 and off.headers["Location"] == "/account/two-factor/"
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    token = browser.post(f"{live_server.url}/api/v1/tokens/", json={"name": "x"})
    assert token.status_code == 403 and token.json()["code"] == "two_factor_required"
    page = browser.post(f"{live_server.url}/account/tokens", data={"name": "x"}, allow_redirects=False)
    assert page.status_code == 302 and not re.search(r"coffer_\w+", page.text)


def test_a_personal_access_token_still_works_beside_a_password_only_session(live_server, admin):
    from portal.accounts.services import token_issue

    _, secret = token_issue(actor=admin, owner=admin, name="script")
    browser = _signed_in_with_password(live_server.url, "root")
    answer = browser.get(f"{live_server.url}/api/v1/spaces/", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200, answer.text
