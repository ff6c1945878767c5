"""Attacks on /agent/<name> (issue 14): only the wheel the build's manifest
names is ever served, to signed-in users, whatever the path says."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from portal.backups import agent_dist
from tests.web.live import page_client

pytestmark = pytest.mark.django_db
WHEEL = "coffer_agent-1.0-py3-none-any.whl"


@pytest.fixture
def built(settings, tmp_path):
    """A build in a folder of the test's, with a secret beside it and one above it."""
    folder = tmp_path / "agent"
    entry = agent_dist.build(folder)
    (folder / "secret.txt").write_text("beside the wheel")
    (tmp_path / "secret.txt").write_text("above the wheel")
    (folder / "coffer_agent-9.9-py3-none-any.whl").write_bytes(b"not in the manifest")
    settings.AGENT_DIST_DIR = folder
    return entry


def served(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_anonymous_visitors_are_sent_to_sign_in_and_get_no_bytes(built):
    for url in ("/agent/", f"/agent/{WHEEL}"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("path", [
    "../secret.txt", "..%2Fsecret.txt", "%2e%2e%2fsecret.txt", "%2E%2E/secret.txt", "secret.txt",
    "..", ".", "manifest.json", "coffer_agent-9.9-py3-none-any.whl", f"{WHEEL}%00", f"{WHEEL}%2f",
    f"{WHEEL}/", f"./{WHEEL}", f"sub%2F..%2F{WHEEL}", WHEEL.upper(), f"{WHEEL} ", "%5C..%5Csecret.txt",
    "..%5Csecret.txt", f"%252e%252e%252f{WHEEL}",
])
def test_names_not_in_the_manifest_are_404_whatever_their_spelling(alice, built, path):
    response = page_client(alice).get(f"/agent/{path}")
    assert response.status_code == 404, path
    body = served(response)
    assert b"the wheel" not in body and b"not in the manifest" not in body and not body.startswith(b"PK")


def test_a_manifest_that_names_something_else_serves_nothing(alice, built, settings):
    folder = settings.AGENT_DIST_DIR
    (folder / "manifest.json").write_text(json.dumps({"files": [
        {"name": "../secret.txt", "sha256": "0" * 64},
        {"name": "secret.txt", "sha256": "0" * 64},
        {"name": f"../agent/{WHEEL}", "sha256": built["sha256"]},
        {"name": WHEEL, "sha256": "not a digest"},
    ]}))
    client = page_client(alice)
    assert built["sha256"] not in client.get("/agent/").content.decode()
    for name in ("secret.txt", WHEEL, f"..%2Fagent%2F{WHEEL}"):
        assert client.get(f"/agent/{name}").status_code == 404, name


def test_the_wheel_is_an_attachment_that_a_browser_never_sniffs_or_writes_with(alice, built):
    client = page_client(alice)
    for method in (client.post, client.put, client.delete):
        assert method(f"/agent/{WHEEL}").status_code == 405
    response = client.get(f"/agent/{WHEEL}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment")
    assert len(served(response)) == built["size"]


def test_a_session_that_still_owes_its_second_factor_gets_no_agent(alice, built, monkeypatch):
    from portal.accounts import twofactor

    monkeypatch.setattr(twofactor, "owes_second_factor", lambda user: True)
    response = page_client(alice).get(f"/agent/{WHEEL}")
    assert response.status_code == 302 and not response.streaming
