"""Fixtures for the storage suite: both backends, and a way to fetch the URLs they hand out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import requests
from django.conf import settings
from django.test import Client

from portal.storage import LocalObjectStore
from portal.storage.s3 import S3ObjectStore

TEST_BUCKET = "coffer-storage-tests"


@pytest.fixture(scope="session")
def s3_bucket(seaweed) -> str:
    """One bucket for the session (SeaweedFS gives every bucket its own volumes);
    tests keep apart by key prefix (``ns``)."""
    s3_store(seaweed, TEST_BUCKET).ensure_bucket()
    return TEST_BUCKET


def s3_store(seaweed, bucket: str, **options) -> S3ObjectStore:
    return S3ObjectStore(seaweed.endpoint_url, bucket, seaweed.region, seaweed.access_key, seaweed.secret_key,
                         **options)


@pytest.fixture(params=["local", "s3"])
def store(request):
    """The same contract, run once per backend. The local one is the portal's
    configured store, since the portal's views serve its signed URLs."""
    if request.param == "local":
        return request.getfixturevalue("local_store")
    return s3_store(request.getfixturevalue("seaweed"), request.getfixturevalue("s3_bucket"))


@pytest.fixture
def ns() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def local_store(settings, tmp_path) -> LocalObjectStore:
    """The portal's configured store, pointed at a fresh folder (what the views serve from)."""
    from portal.storage import get_store

    settings.STORAGE_BACKEND = "local"
    settings.STORAGE_ROOT = tmp_path / "portal-objects"
    store = get_store()
    store.ensure_bucket()
    return store


@dataclass
class Fetched:
    status: int
    headers: dict
    body: bytes


class Http:
    """Fetches a URL a store handed out, as a browser or the agent would: the
    portal's own URLs through Django's test client (one client per call, so
    threads may share this), the object store's over the network."""

    def request(self, method: str, url: str, *, body: bytes | None = None, headers=None) -> Fetched:
        if url.startswith(settings.PUBLIC_URL + "/"):
            return self._portal(method, url[len(settings.PUBLIC_URL):], body, headers or {})
        answer = requests.request(method, url, data=body, headers=headers, timeout=60)
        return Fetched(answer.status_code, answer.headers, answer.content)

    def _portal(self, method: str, path: str, body: bytes | None, headers: dict) -> Fetched:
        client = Client(enforce_csrf_checks=True)
        answer = client.generic(method, path, body or b"", content_type="application/octet-stream",
                                headers=headers)
        content = b"".join(answer.streaming_content) if answer.streaming else answer.content
        return Fetched(answer.status_code, answer.headers, content)

    def get(self, url: str, **kwargs) -> Fetched:
        return self.request("GET", url, **kwargs)

    def put(self, url: str, body: bytes) -> Fetched:
        return self.request("PUT", url, body=body)


@pytest.fixture
def http() -> Http:
    return Http()
