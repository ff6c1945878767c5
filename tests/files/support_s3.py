"""Helpers for the upload and fault tests: point the portal at a backend,
send parts over HTTP, and run a SeaweedFS of the test's own that it can stop
and restart (built from tests/support/seaweed.py's launch code)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
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
class WeedServer:
    """``weed mini`` on its own ports and data folder. ``stop`` and ``start``
    again keep both, so the store comes back with what it held."""

    def __init__(self, data: Path):
        self.data = data
        self.command = launch._command(data)  # picks the ports once: a restart reuses them
        s3_port = next(arg for arg in self.command if arg.startswith("-s3.port=")).partition("=")[2]
        self.info = launch.Seaweed(endpoint_url=f"http://127.0.0.1:{s3_port}", access_key=launch.ACCESS_KEY,
                                   secret_key=launch.SECRET_KEY, region="us-east-1", data_dir=data,
                                   log_path=data / "weed.log")
        self.process: subprocess.Popen | None = None

    def __getattr__(self, name):  # endpoint_url, access_key, secret_key, region, client(), log_tail()
        return getattr(self.info, name)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with open(self.info.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=self.data, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        launch._wait_until_ready(self.process, self.info)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            launch._stop(self.process)
        self.process = None

    def kill(self) -> None:
        """SIGKILL weed's whole process group (teardown: the data is thrown away anyway)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None


def weed_server():
    """A generator for a function-scoped fixture: a started WeedServer, always stopped and removed."""
    data = Path(tempfile.mkdtemp(prefix="coffer-weed-fault-"))
    server = WeedServer(data)
    try:
        server.start()
        yield server
    finally:
        server.kill()
        shutil.rmtree(data, ignore_errors=True)
