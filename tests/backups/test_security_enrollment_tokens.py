"""Enrollment tokens turn into device credentials, and a device receives
backup keys: a personal access token (which may leak from a script) must not
be able to mint one. A signed-in browser session can, and so can an
administrator's token (provisioning laptops from a script)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portal.accounts.services import token_issue
from portal.backups.models import EnrollmentToken
from tests.helpers import assert_error

pytestmark = pytest.mark.django_db
URL = "/api/v1/devices/enrollment-tokens"


def _bearer(user) -> APIClient:
    _, plaintext = token_issue(actor=user, owner=user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def test_a_personal_access_token_cannot_mint_an_enrollment_token(alice):
    body = assert_error(_bearer(alice).post(URL, {"name": "stolen"}, format="json"), 403, "token_cannot_enroll")
    assert "personal access token" in body["message"]
    assert not EnrollmentToken.objects.exists()


def test_the_same_token_still_works_for_reading_devices(alice):
    assert _bearer(alice).get("/api/v1/devices").status_code == 200


def test_a_signed_in_browser_session_mints_an_enrollment_token(alice):
    client = APIClient()
    client.force_login(alice)
    response = client.post(URL, {"name": "laptop"}, format="json")
    assert response.status_code == 201, response.content
    assert EnrollmentToken.objects.get().user == alice


def test_an_administrators_token_may_mint_an_enrollment_token_for_their_own_device(make_user):
    admin = make_user(username="ops", is_superuser=True, is_staff=True)
    response = _bearer(admin).post(URL, {"name": "build-box"}, format="json")
    assert response.status_code == 201, response.content
    assert EnrollmentToken.objects.get().user == admin


def test_the_enrollment_page_ignores_a_personal_access_token(alice):
    """The web page that makes tokens knows only browser sessions: a Bearer header is no sign-in there."""
    from django.test import Client

    _, plaintext = token_issue(actor=alice, owner=alice, name="script")
    response = Client().post("/devices/enroll", {"name": "stolen"}, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not EnrollmentToken.objects.exists()
    signed_in = Client()
    signed_in.force_login(alice)
    assert signed_in.post("/devices/enroll", {"name": "laptop"}).status_code == 200
    assert EnrollmentToken.objects.get().user == alice
