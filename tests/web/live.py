"""What the web tests share: a signed-in test client for page tests, a
browser's sign-in against the live server as ``requests`` sessions, and
authenticator codes."""

from __future__ import annotations

import requests
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD


def page_client(user, **kwargs) -> Client:
    """A test client signed in as ``user`` (a session, as a browser has)."""
    client = Client(**kwargs)
    client.force_login(user)
    return client


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The authenticator's code now, or ``steps_ahead`` codes later (one code is accepted only once)."""
    t0 = device.t0 - steps_ahead * device.step
    return f"{totp(device.bin_key, device.step, t0, device.digits, device.drift):06d}"


def password_sign_in(base: str, username: str) -> tuple[requests.Session, requests.Response]:
    """A browser that gave the right password at the sign-in form (nothing more),
    with the sign-in form's answer; later requests carry the CSRF token."""
    browser = requests.Session()
    browser.get(f"{base}/accounts/login/").raise_for_status()
    answer = browser.post(f"{base}/accounts/login/", allow_redirects=False,
                          data={"username": username, "password": PASSWORD,
                                "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
                          headers={"Referer": f"{base}/accounts/login/"})
    assert answer.status_code == 302, answer.text
    browser.headers.update({"X-CSRFToken": browser.cookies["csrftoken"], "Referer": f"{base}/"})
    return browser, answer


def signed_in(base: str, username: str) -> requests.Session:
    return password_sign_in(base, username)[0]
