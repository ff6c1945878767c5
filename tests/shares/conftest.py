"""Fixtures for share links: a file and a folder in alice's team space, made
through the real upload API, and a browser-like client for public pages."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.test import Client

from portal.files.selectors import node_at
from portal.shares.models import ShareLink
from tests.files.conftest import member_of, signed_in, team, upload  # noqa: F401 - shared fixtures
from tests.files.support_s3 import ready_upload, use_s3
from tests.support.quick_hashes import PRODUCTION_HASHERS, QUICK_HASHERS  # noqa: F401 - the shares tests import them from here

CONTENT = b"quarterly numbers\n" * 1000
PASSWORD = "correct horse battery"
SHARES_REDIS_DB = 14


def _own_cache() -> dict:
    """The suite's cache with keys of this test's own. On Redis, a database
    beside the suite's: every test run flushes that one when it starts
    (tests/conftest.py), which would wipe a throttle's counters mid-test
    while another developer's run begins."""
    cache = {**django_settings.CACHES["default"], "KEY_PREFIX": f"t{uuid.uuid4().hex}"}
    if cache["BACKEND"].endswith("RedisCache"):
        url = urlparse(cache["LOCATION"])
        cache["LOCATION"] = url._replace(path=f"/{SHARES_REDIS_DB}").geturl()
    return {"default": cache}


@pytest.fixture(autouse=True)
def _quick_hashes_and_own_cache(settings):
    """Fast argon2 (also the suite's default), and throttle counters and codes no other test (or run) shares."""
    settings.PASSWORD_HASHERS = QUICK_HASHERS
    settings.CACHES = _own_cache()


@pytest.fixture
def shared_file(api, alice, team, upload):  # noqa: F811
    """/Reports/q3.txt in the team space, as the API answers it."""
    return upload(api.as_user(alice), team, "/Reports/q3.txt", CONTENT)


@pytest.fixture
def shared_folder(signed_in, alice, team, upload):  # noqa: F811
    """/Project (a.txt, sub/b.txt) beside /Secret.txt, which is not shared.
    Returns the folder's metadata and each file's bytes by path."""
    client = signed_in(alice)
    files = {"a.txt": b"alpha\n" * 50, "sub/b.txt": b"bravo\n" * 70}
    for path, data in files.items():
        upload(client, team, f"/Project/{path}", data)
    upload(client, team, "/Secret.txt", b"not for visitors")
    return node_at(team, ["Project"])[0], files


@pytest.fixture
def share(api, alice):
    """``share(node_id, **options)`` -> the API's answer for a new link made by alice."""

    def make(node_id, *, as_user=None, expect=201, **options):
        body = {"node": node_id, "permission": "download", **options}
        response = api.as_user(as_user or alice).post("/api/v1/shares", body, format="json")
        assert response.status_code == expect, response.content
        return response.json()

    return make


@pytest.fixture
def visitor():
    """A fresh browser: its own cookies, from its own address."""

    def make(address: str = "203.0.113.7", agent: str = "pytest-browser") -> Client:
        return Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)

    return make


def row(link: dict) -> ShareLink:
    return ShareLink.objects.get(pk=link["id"])


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def unlocked(browser: Client, token: str, password: str = PASSWORD) -> Client:
    answer = browser.post(f"/s/{token}", {"password": password})
    assert answer.status_code == 303, answer.content
    return browser


@pytest.fixture
def s3_file(settings, seaweed, signed_in, alice, team):
    """/Reports/q3.bin stored in SeaweedFS, uploaded through the upload API."""
    store = use_s3(settings, seaweed, bucket=f"shares-{uuid.uuid4().hex[:12]}")
    data = os.urandom(300_000)
    session = ready_upload(store, alice, team, "/Reports/q3.bin", data)
    done = signed_in(alice).post(f"/api/v1/uploads/{session.id}/complete")
    assert done.status_code == 201, done.content
    return done.json(), data
