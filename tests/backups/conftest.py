"""Backups through the real API: devices enrolled with real tokens, packs
built with the portal's own crypto (portal/backups/crypto.py), PUT to the URL
the portal hands out (the local store's signed URL, or SeaweedFS's)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
import requests
from rest_framework.test import APIClient

from portal.backups import crypto
from portal.backups.keys import KeySet
from portal.storage.base import CREATE_ONLY_HEADERS

CHUNK = 64 * 1024  # tests split files into fixed-size chunks; the agent uses content-defined ones


def put_url(client, url: str, body: bytes, headers: dict | None = None):
    """PUT ``body`` to a presigned URL: through the test client for the portal's own, over HTTP otherwise.
    ``headers``: what the device sends (by default a pack's, CREATE_ONLY_HEADERS)."""
    headers = CREATE_ONLY_HEADERS if headers is None else headers
    parsed = urlparse(url)
    if parsed.path.startswith("/storage/"):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        return client.generic("PUT", f"{parsed.path}?{parsed.query}" if parsed.query else parsed.path, body,
                              content_type="application/octet-stream", **extra)
    return requests.put(url, data=body, headers=headers, timeout=30)


def run_pack_checks() -> dict[str, int]:
    """What the ``backups.check_pack`` tasks queued on commit would do (tests never commit)."""
    from portal.backups.services.packs import pack_check_pending

    return pack_check_pending()


class Device:
    """An enrolled device: ``client`` sends its bearer token."""

    def __init__(self, enrolled: dict):
        self.id = enrolled["device_id"]
        self.token = enrolled["device_token"]
        self.enrolled = enrolled
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        self.keys = KeySet(id_key=base64.b64decode(enrolled["keys"]["id_key"]),  # what the portal handed out
                           data_key=base64.b64decode(enrolled["keys"]["data_key"]), key_id=enrolled["key_set"])

    def post(self, path: str, body=None):
        return self.client.post(f"/api/v1{path}", body if body is not None else {}, format="json")

    def get(self, path: str):
        return self.client.get(f"/api/v1{path}")

    # --- building backups ------------------------------------------------------------
    def blob(self, plaintext: bytes, kind: str = "data") -> tuple[str, bytes, str, int]:
        cid = crypto.chunk_id(self.keys.id_key, plaintext)
        return cid, crypto.seal_blob(self.keys.data_key, cid, plaintext), kind, len(plaintext)

    def upload_pack(self, blobs: list[tuple[str, bytes, str, int]]) -> str:
        """Announce, PUT and index one pack of ``blobs``; its id."""
        body, entries = b"", []
        for cid, blob, kind, raw in blobs:
            entries.append({"id": cid, "offset": len(body), "length": len(blob), "raw_length": raw, "kind": kind})
            body += blob
        created = self.post("/backup/packs", {"size": len(body)})
        assert created.status_code == 201, created.content
        stored = put_url(self.client, created.json()["url"], body, created.json()["headers"])
        assert stored.status_code == 200, getattr(stored, "content", b"")
        indexed = self.post(f"/backup/packs/{created.json()['pack_id']}/index", {"chunks": entries})
        assert indexed.status_code == 201, indexed.content
        return created.json()["pack_id"]

    def build_tree(self, layout: dict, blobs: list) -> str:
        """Trees and data blobs for ``layout`` ({name: bytes | dict}); the root tree id.
        Blobs of chunks the index already knows are not added (as the agent does)."""
        entries = []
        for name, value in layout.items():
            if isinstance(value, dict):
                entries.append({"name": name, "type": "dir", "mode": 0o755, "mtime_ns": 1_700_000_000_000_000_000,
                                "tree": self.build_tree(value, blobs)})
            else:
                ids = []
                for start in range(0, len(value), CHUNK):
                    blob = self.blob(value[start:start + CHUNK])
                    ids.append(blob[0])
                    blobs.append(blob)
                entries.append({"name": name, "type": "file", "mode": 0o644, "mtime_ns": 1_700_000_000_123_456_789,
                                "size": len(value), "chunks": ids})
        tree = self.blob(crypto.tree_encode(entries), kind="tree")
        blobs.append(tree)
        return tree[0]

    def backup(self, layout: dict, *, started_at: datetime | None = None) -> dict:
        """One whole backup run: blobs not yet known go into one pack, then the snapshot."""
        blobs: list = []
        root = self.build_tree(layout, blobs)
        unique = list({blob[0]: blob for blob in blobs}.values())
        known = set(self.post("/backup/chunks/known", {"ids": [b[0] for b in unique]}).json()["known"])
        fresh = [blob for blob in unique if blob[0] not in known]
        if fresh:
            self.upload_pack(fresh)
        return self.commit(root, started_at=started_at)

    def commit(self, root: str, *, started_at: datetime | None = None):
        started = started_at or datetime.now(timezone.utc)
        response = self.post("/backup/snapshots", {
            "root": root, "started_at": started.isoformat(), "finished_at": (started + timedelta(minutes=1)).isoformat(),
            "paths": ["/home/alice"], "hostname": "laptop",
            "stats": {"files": 1, "dirs": 1, "bytes": 10, "added_bytes": 10, "skipped": 0}})
        assert response.status_code == 201, response.content
        return response.json()


@pytest.fixture
def enroll(db, signed_in):
    """``enroll(user, name=...)`` -> an enrolled Device helper, through the real API."""

    def make(user, name: str = "laptop") -> Device:
        token = signed_in(user).post("/api/v1/devices/enrollment-tokens", {"name": name}, format="json")
        assert token.status_code == 201, token.content
        answer = APIClient().post("/api/v1/backup/enroll", {"token": token.json()["token"], "hostname": "host-1",
                                                             "platform": "linux"}, format="json")
        assert answer.status_code == 201, answer.content
        return Device(answer.json())

    return make


@pytest.fixture
def signed_in():
    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def store_root(settings, tmp_path):
    """A fresh local storage folder for the test."""
    from tests.files.support_s3 import use_local

    return use_local(settings, tmp_path / "storage")


