"""Two-factor sign-in: the code step after the password, and the
administrator's requirement sending users to enroll."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_a_user_with_an_authenticator_must_give_its_code_after_the_password(alice):
    device = TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    client = Client()
    step_one = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert step_one.status_code == 302 and step_one["Location"] == "/accounts/login/verify/"
    assert client.get("/spaces/").status_code == 302  # not signed in yet

    wrong = client.post("/accounts/login/verify/", {"code": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and 'role="alert"' in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()
    right = client.post("/accounts/login/verify/", {"code": _code(device)})
    assert right.status_code == 302
    assert client.get("/spaces/").status_code == 200


def test_when_the_administrator_requires_it_users_are_sent_to_enroll_and_can_then_work(alice, settings):
    settings.REQUIRE_2FA = "all"
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    blocked = client.get("/spaces/")
    assert blocked.status_code == 302 and blocked["Location"] == "/account/two-factor/"
    assert client.get("/api/v1/spaces/").status_code == 403
    page = client.get("/account/two-factor/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    assert client.post("/account/two-factor/", {"code": "12"}).status_code == 400
    device.refresh_from_db()
    device.throttle_reset()  # a wrong code makes the next try wait (django-otp's throttle)
    assert client.post("/account/two-factor/", {"code": _code(device)}).status_code == 302
    assert client.get("/spaces/").status_code == 200
    refused = client.post("/account/two-factor/off", HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
