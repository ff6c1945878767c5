"""Helpers for the upload and fault tests: point the portal at a backend,
send parts over HTTP, and run a SeaweedFS of the test's own that it can stop
and restart (tests/support/seaweed.py's WeedServer)."""

from __future__ import annotations

import io
import socket
import uuid
from pathlib import Path

import requests

from tests.support import seaweed as launch

MiB = 1024 * 1024


# --- which store the portal uses -------------------------------------------------------
def use_s3(settings, server, bucket: str | None = None):
    """Point the portal at ``server`` (the ``seaweed`` fixture or a WeedServer)
    with a bucket no other test uses; the store, its bucket created."""
    from portal.storage import get_store

    settings.STORAGE_BACKEND = "s3"
    settings.S3_ENDPOINT = server.endpoint_url
    settings.S3_ACCESS_KEY = server.access_key
    settings.S3_SECRET_KEY = server.secret_key
    settings.S3_REGION = server.region
    settings.S3_BUCKET = bucket or f"up-{uuid.uuid4().hex[:16]}"
    store = get_store()
    store.ensure_bucket()
    return store


def use_local(settings, root: Path, public_url: str | None = None):
    """Point the portal at a fresh storage folder (and, for part URLs a real
    HTTP client can reach, at a live server's URL)."""
    from portal.storage import get_store

    settings.STORAGE_BACKEND = "local"
    settings.STORAGE_ROOT = root
    if public_url is not None:
        settings.PUBLIC_URL = public_url.rstrip("/")
    store = get_store()
    store.ensure_bucket()
    return store


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- parts over HTTP -----------------------------------------------------------------------
def chunk(data: bytes, part: dict, part_size: int) -> bytes:
    """The bytes of ``part`` (an entry of an upload's ``parts``) in ``data``."""
    start = (part["number"] - 1) * part_size
    return data[start:start + part["size"]]


def put_part(url: str, body: bytes) -> str:
    """PUT one part to its URL (the store's or the portal's) as any client would; its ETag."""
    answer = requests.put(url, data=body, timeout=60)
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    assert answer.headers.get("ETag"), answer.headers
    return answer.headers["ETag"]


def ready_upload(store, actor, space, path: str, data: bytes, **extra):
    """An upload session (started through the service) with every part already
    in the store: written by the local store itself, or PUT to S3's part URLs."""
    from portal.files.services.uploads import upload_start
    from portal.storage import LocalObjectStore

    session = upload_start(actor=actor, space_id=space.id, path=path, size=len(data), **extra)
    for number in range(1, session.part_count + 1):
        body = data[(number - 1) * session.part_size:number * session.part_size]
        if isinstance(store, LocalObjectStore):
            store.multipart_put_part(session.key, session.multipart_id, number, io.BytesIO(body), size=len(body))
        else:
            put_part(store.multipart_part_url(session.key, session.multipart_id, number), body)
    return session


# --- a SeaweedFS the test controls -------------------------------------------------------------
WeedServer = launch.WeedServer


def weed_server():
    """A generator for a function-scoped fixture: a started WeedServer, always stopped and removed."""
    with launch.private_seaweed(prefix="coffer-weed-fault-") as server:
        yield server
