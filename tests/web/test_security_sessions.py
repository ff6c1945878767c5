"""What a stolen or left-behind browser session can still do, tried over real
HTTP against the live server: it cannot take the second factor away without
a code from the authenticator, and nothing a signed-in user (or a token) was
shown is kept in a browser's or a proxy's cache for the next person at the
keyboard."""

from __future__ import annotations

import pytest
import requests
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.accounts.services import token_issue
from portal.spaces.services import space_create
from tests.helpers import events
from tests.web.live import signed_in, totp_code

pytestmark = pytest.mark.django_db(transaction=True)


def _with_authenticator(base: str, browser: requests.Session, user) -> TOTPDevice:
    assert browser.get(f"{base}/account/two-factor/").status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    answer = browser.post(f"{base}/account/two-factor/", data={"code": totp_code(device)}, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    browser.headers["X-CSRFToken"] = browser.cookies["csrftoken"]
    device.refresh_from_db()
    device.throttle_reset()
    return device


def test_a_stolen_session_cannot_turn_off_two_factor_sign_in_without_a_code(live_server, settings, alice):
    settings.REQUIRE_2FA = "off"
    base = live_server.url
    stolen = signed_in(base, "alice")
    device = _with_authenticator(base, stolen, alice)

    for code in (None, "", "000000"):
        data = {} if code is None else {"code": code}
        refused = stolen.post(f"{base}/account/two-factor/off", data=data, allow_redirects=False)
        assert refused.status_code == 400, refused.text
        assert TOTPDevice.objects.filter(pk=device.pk, confirmed=True).exists()
        device.refresh_from_db()
        device.throttle_reset()
    assert events("auth.two_factor_disabled") == []
    assert len(events("auth.login_failed", outcome="failure")) == 3

    device.refresh_from_db()
    done = stolen.post(f"{base}/account/two-factor/off", data={"code": totp_code(device, steps_ahead=1)},
                       allow_redirects=False)
    assert done.status_code == 302 and done.headers["Location"] == "/account/"
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert len(events("auth.two_factor_disabled")) == 1


def test_the_turn_off_form_asks_for_the_code(live_server, settings, alice):
    settings.REQUIRE_2FA = "off"
    browser = signed_in(live_server.url, "alice")
    _with_authenticator(live_server.url, browser, alice)
    page = browser.get(f"{live_server.url}/account/").text
    form = page[page.index('action="/account/two-factor/off"'):]
    form = form[:form.index("</form>")]
    assert 'name="code"' in form and "required" in form


def test_nothing_shown_to_a_signed_in_user_or_a_token_is_kept_in_a_cache(live_server, alice):
    base = live_server.url
    team = space_create(actor=alice, name="Team")
    browser = signed_in(base, "alice")
    for path in ("/account/", "/spaces/", f"/spaces/{team.pk}/", "/links/", "/devices/", "/api/v1/spaces/",
                 f"/api/v1/spaces/{team.pk}/tree", "/api/v1/tokens/"):
        answer = browser.get(f"{base}{path}", allow_redirects=False)
        assert answer.status_code == 200, (path, answer.status_code)
        assert answer.headers.get("Cache-Control") == "private, no-store", path
    secret = browser.post(f"{base}/account/tokens", data={"kind": "api", "name": "laptop"})
    assert secret.status_code == 200 and "coffer_" in secret.text
    assert secret.headers.get("Cache-Control") == "private, no-store"

    _, token = token_issue(actor=alice, owner=alice, name="script")
    with_token = requests.get(f"{base}/api/v1/spaces/", headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 200 and with_token.headers.get("Cache-Control") == "private, no-store"

    browser.post(f"{base}/accounts/logout/")
    assert browser.get(f"{base}/account/", allow_redirects=False).status_code == 302
