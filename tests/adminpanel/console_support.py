"""What the console tests share: clients for an administrator and for a
plain user, and the check that a page is the portal's 404 for non-admins."""

from __future__ import annotations

import pytest
from django.test import Client


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def boss(make_user):
    return make_user(username="boss", is_staff=True, is_superuser=True)


@pytest.fixture
def boss_client(boss) -> Client:
    return client_for(boss)


@pytest.fixture
def user_client(alice) -> Client:
    """alice: signed in, not an administrator."""
    return client_for(alice)


def assert_portal_404(response) -> None:
    assert response.status_code == 404
    assert b"<html" in response.content.lower() or b"<!doctype" in response.content.lower()
