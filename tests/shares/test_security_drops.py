"""A file drop tells its visitor only that the files were received: sending
a name the folder already holds gets the same answer as a fresh name (page
and JSON), and the stored file never overwrites anything. Real HTTP against
the live portal, as a visitor's browser would send it."""

from __future__ import annotations

import re

import pytest
import requests

from portal.files.selectors import child_named
from portal.storage import get_store

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def drop_box(live_server, share, shared_folder, signed_in, alice, upload):
    """A drop link on /Project, which already holds secret.txt."""
    folder, _ = shared_folder
    upload(signed_in(alice), folder.space, "/Project/secret.txt", b"the real secret")
    link = share(folder.id, permission="upload")
    return f"{live_server.url}/s/{link['token']}", folder


def _send(page: str, name: str, data: bytes, *, json: bool) -> requests.Response:
    browser = requests.Session()
    opened = browser.get(page, timeout=30)
    assert opened.status_code == 200
    csrf = browser.cookies["csrftoken"]
    return browser.post(f"{page}/upload", files={"file": (name, data)}, data={"csrfmiddlewaretoken": csrf},
                        headers={"Accept": "application/json"} if json else {}, timeout=30)


def _page(answer: requests.Response, name: str) -> str:
    """The page with the sent name and the (per-render) CSRF token blanked."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", answer.text.replace(name, "NAME"))


def _content(node) -> bytes:
    node.refresh_from_db()
    with get_store().open(node.current_version.blob.key) as stream:
        return stream.read()


def test_a_drop_answers_a_taken_name_exactly_as_a_fresh_one_in_json(drop_box):
    page, folder = drop_box
    taken = _send(page, "secret.txt", b"guess", json=True)
    fresh = _send(page, "nothing.txt", b"guess", json=True)
    assert taken.status_code == fresh.status_code == 201
    assert taken.json() == {"received": 1, "files": [{"name": "secret.txt", "size": 5}]}
    assert fresh.json() == {"received": 1, "files": [{"name": "nothing.txt", "size": 5}]}
    assert b"(2)" not in taken.content
    assert _content(child_named(folder, "secret.txt")) == b"the real secret"
    assert _content(child_named(folder, "secret (2).txt")) == b"guess"


def test_a_drop_page_answers_a_taken_name_exactly_as_a_fresh_one(drop_box):
    page, folder = drop_box
    taken = _send(page, "secret.txt", b"guess", json=False)
    fresh = _send(page, "fresh.txt", b"guess", json=False)
    assert taken.status_code == fresh.status_code == 201
    assert b"Received" in taken.content and b"(2)" not in taken.content
    assert _page(taken, "secret.txt") == _page(fresh, "fresh.txt")
    assert _content(child_named(folder, "secret.txt")) == b"the real secret"


def test_a_drop_refuses_a_name_too_long_to_be_kept_beside_a_taken_one_whether_or_not_it_is_taken(
        drop_box, signed_in, alice, upload):
    page, folder = drop_box
    long_name = "x" * 245 + ".txt"
    upload(signed_in(alice), folder.space, f"/Project/{long_name}", b"kept")
    for name in (long_name, "y" * 245 + ".txt"):
        answer = _send(page, name, b"guess", json=True)
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_name"
    assert _content(child_named(folder, long_name)) == b"kept"
