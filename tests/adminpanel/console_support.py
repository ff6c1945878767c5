"""What the console tests share besides fixtures (those are in conftest.py):
a signed-in client, and the check that a page is the portal's 404."""

from __future__ import annotations

from django.test import Client


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_portal_404(response) -> None:
    assert response.status_code == 404
    assert b"<html" in response.content.lower() or b"<!doctype" in response.content.lower()
